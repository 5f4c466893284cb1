-- Learners' answers and quizzes (issue 6).
-- questions: what kind of request it was and how it was answered (LLM, extractive, unsupported).
ALTER TABLE questions
    ADD COLUMN kind TEXT NOT NULL DEFAULT 'answer' CHECK (kind IN ('answer', 'quiz')),
    ADD COLUMN mode TEXT CHECK (mode IN ('llm', 'extractive', 'unsupported')),
    ADD COLUMN reason TEXT;
CREATE INDEX questions_user_day ON questions (user_id, created_at);

-- A missed question comes back in a later quiz as a new poll: a new row pointing at the first one.
ALTER TABLE quiz_questions
    ADD COLUMN review_of UUID REFERENCES quiz_questions (id) ON DELETE CASCADE,
    ADD COLUMN user_id BIGINT REFERENCES users (id),
    ADD COLUMN source TEXT NOT NULL DEFAULT '';
CREATE INDEX quiz_questions_user ON quiz_questions (user_id, created_at);
