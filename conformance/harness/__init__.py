"""The harness: declarations (declare), input strategies (arrays), the target binding (target), the checks run
without pytest (run, api), the pytest plugin and generated suite (plugin, suite), reports and the command line."""
