import HardenCommands

await HardenMain.run()
