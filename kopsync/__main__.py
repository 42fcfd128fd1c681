from kopsync.cli.main import main

main()
