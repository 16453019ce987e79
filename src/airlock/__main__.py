from airlock.cli.main import app

app()
