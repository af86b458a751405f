from archon_cli.cli import main

main()
