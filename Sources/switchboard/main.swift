import ArgumentParser

await SwitchboardCommand.main()
