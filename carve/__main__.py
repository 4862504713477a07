from carve.cli import main

main()
