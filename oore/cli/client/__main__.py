from oore.cli.client.app import main

main()
