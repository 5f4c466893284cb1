"""One aiogram Router per feature."""
