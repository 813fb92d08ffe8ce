"""`make bench` (`python -m benchmarks`): writes benchmarks/RESULTS.md and results.json; `--smoke` for tiny sizes.

Nothing is imported at module level: spawned measuring processes re-import this module, and must stay lean.
"""

if __name__ == "__main__":
    from benchmarks.bench import main

    main()
