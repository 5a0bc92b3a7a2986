"""The command line's exit codes."""

EXIT_OK = 0  # success
EXIT_FAIL = 1  # anything unexpected (or an unhealthy agent)
EXIT_INPUT = 2  # bad input or configuration: one line on stderr naming the file/field
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_PIPE = 141  # the reader of standard output went away (`| head`), as SIGPIPE would
