"""The Telegram platform, through python-telegram-bot."""
