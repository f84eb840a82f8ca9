from netcost.cli import main

main()
