"""Sample articles shipped with newsbot, so that a fresh install has something to show:
`newsbot shell --sample` or `newsbot import --sample`.

- `seed-article-fr.txt`: a plain-text page (title, byline, body, category word), the project's
  seed article;
- `articles.jsonl`: short articles written for newsbot, in French and English, in the Sport,
  Économie and Science categories, in the JSON Lines format `newsbot import` reads.

Data only: nothing here is imported by the code, which reads the files with importlib.resources.
"""
