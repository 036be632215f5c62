"""Measuring answer quality: question sets in, the tables of ``qa eval`` out.

- ``quality``: retrieval and answer metrics per split and mode (``sets/questions.jsonl``);
- ``calibration``: how often a confident answer, and each match label, is right;
- ``followups``: follow-up questions asked alone and after their history
  (``sets/followups.jsonl``), and the check that history never makes an answer worse.

Takes a ``qa.Retriever``; hands tables to ``qa.cli`` (``qa eval``) and floors to the tests.
"""
