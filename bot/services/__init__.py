"""What a user can do, independent of Telegram: each service takes the store and plain values."""
