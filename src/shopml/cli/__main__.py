from shopml.cli import app

app()
