"""Stage 3, a question to an ``Answer``: read it, rank the passages, quote the sentence.

- ``question``: cleaning a question (markup, control characters, length);
- ``language``: questions not in English are said so, not searched;
- ``conversation`` with ``references``, ``question_shape``: a follow-up read with the
  earlier questions ("And France?", "When was it issued?");
- ``question_kind``: what a question asks for (a number, a date, a person ...);
- ``search``: one model call for the questions' vectors, then ``ranking`` (dense and
  BM25 scores fused by ``fusion``) per part of the index;
- ``answering``: the answer sentence, whether the passages answer at all and how
  surely, with every threshold; ``key_phrase`` (with ``phrase_patterns``): the words
  of the sentence that answer;
- ``overview``: "What is this article about?", by LexRank over the sentence vectors.

Takes a ``BuiltIndex`` from ``qa.index``; hands ``Hit`` and ``Answer`` records
(``qa.types``) to ``qa.retriever``, the front door.
"""
