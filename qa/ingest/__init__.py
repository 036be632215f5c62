"""Stage 1, documents in: a file, a folder, pasted text or a link becomes a ``Document``,
then ``Passage`` records.

- ``extraction``: a file's bytes to text, by what the bytes are (text, HTML, PDF);
- ``fetching`` (with ``link_safety`` and ``http_body``): the article at a URL, fetched
  with caps and a guard against private addresses;
- ``corpus``: a folder or texts to ``Document`` records, every line classified (title,
  heading, boilerplate, body) without changing a character;
- ``chunking``: a ``Document`` to passages of whole sentences, as spans of its text.

Hands on ``Document`` and ``Passage`` records (``qa.types``) to ``qa.index``.
"""
