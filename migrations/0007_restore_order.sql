-- A review question points at the question it repeats (quiz_questions.review_of, the table's own
-- rows). `ustadh restore` loads each table's rows in the order they lie on disk, where an updated
-- original can come after its review: checked at commit instead of per row, the load of one
-- transaction finds every original in place. Writers see no difference but the moment of the check.
ALTER TABLE quiz_questions ALTER CONSTRAINT quiz_questions_review_of_fkey DEFERRABLE INITIALLY DEFERRED;
