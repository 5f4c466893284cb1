"""Operations: the `ustadh` CLI, the process supervisor, embedded servers and background jobs."""
