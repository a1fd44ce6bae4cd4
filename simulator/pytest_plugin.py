"""pytest plugin (entry point ``pytest11``): the fixtures users need to test a vMotion notification handler."""

pytest_plugins = ["simulator.pytest_vcsim"]
