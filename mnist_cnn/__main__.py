import sys

try:
    from mnist_cnn.cli.main import main
except KeyboardInterrupt:  # Ctrl-C while Python is still loading the command line
    print("interrupted; nothing was saved", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
