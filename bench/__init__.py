"""`make bench`: a national data set, gunicorn with production settings, a load generator, a report.

- dataset.py  generates the data set (31 regions at scale 1) with COPY on PostgreSQL
- server.py   starts and stops gunicorn
- load.py     the load generator (locust as a library, run in its own process)
- jobs.py     the periodic jobs and the heavy analyst pages, each timed in its own process
- report.py   JSON and Markdown output
- run.py      the whole run: `python -m bench.run`
"""
