"""The Telegram side of newsbot, and the only package that imports `telegram`.

    handlers      commands and buttons: parse, call a service, answer with a view
    render        views (HTML text + buttons) from plain values; no Telegram import
    i18n          every message in French and English; dates and numbers
    callbacks     button payloads in at most 64 bytes
    keyboards     views' buttons -> Telegram inline keyboards
    replies       send / edit, with the plain-text fallback
    context       the handlers' typed access to the services
    application   building the PTB Application, serving it, jobs
    shell         the terminal Bot API behind `newsbot shell`
    outbox        the sender's Telegram side: render, send, Telegram's answer as an outcome

Nothing is imported here, so importing one module of the package stays cheap for the command
line (`bot.cli`, which sits above it).
"""
