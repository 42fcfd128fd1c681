from kopsync.cli import main

main()
