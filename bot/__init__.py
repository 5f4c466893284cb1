"""The aiogram 3 Telegram bot: learners' chat and quizzes, admins' commands. It owns no business rules."""
