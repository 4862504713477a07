"""Django's SQLite backend with fair write locking (`ENGINE = "servicekit.sqlite3"`).

SQLite lets one writer in at a time and makes the others poll: a writer that finds the
database locked sleeps on a growing schedule (up to 100 ms a try) while any process that
arrives when the lock is free walks straight in. Among processes that each write a few
times a second (a web server, a relay every 25-50 ms, Celery workers) that starves the
unlucky: a consumer with two short transactions per delivery was seen waiting seconds for
each, and its backlog held a route's handover for half a minute.

So every process that writes through this backend first takes an exclusive `flock` on
a file beside the database (`<database>.writelock`), polled every 0.2-2 ms, and only then
SQLite's own write lock; both are released together at commit or rollback. Writers queue
with gaps of milliseconds instead of a hundred, and none is left behind. Readers take no
lock (WAL lets them read beside the writer).
"""
