"""The shipped scenario suites (YAML). A package only so that installs carry the files."""
