import HardenCommands

StopSignals.install()
await HardenMain.run()
