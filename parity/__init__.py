"""carve parity: the same scenarios against the all-monolith and the extracted deployment.

    scenarios/      what a client does, in plain Python (one function per scenario)
    session.py      the client a scenario drives: records every answer as an Observation
    http.py         one request, one answer; polling to a deadline
    model.py        observations, step results, the Report (each with a JSON form)
    normalizers.py  what may differ between two runs and why (ids, timestamps, hosts...)
    diff.py         two normalised observations -> the differences, path by path
    runner.py       run the scenarios against both deployments, compare, build the Report
    checks.py       final data: `carve extract verify`; the proxy's shadow mismatches
    flip.py         one deployment run twice: flip its routes, wait for the handover
    stackrun.py     a private deployment (carve.stack) for `carve parity stack`
    report/         the Report in the terminal (rich), as JSON, as one HTML page
    export.py       each problem as a pytest file; reproduce.py is what such a file calls
    cli.py          `carve parity list | run | stack`; output.py prints and exits

parity talks HTTP only: it imports neither the monolith nor the extracted services.
"""
