"""The WithUs application: configuration, web app, service layer, scheduler and CLI."""
