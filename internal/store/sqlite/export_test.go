package sqlite

// QueueLen is how many writes wait for the writer.
func (e *Engine) QueueLen() int { return len(e.batch.queue) }

// SetAfterCommit sets a function the writer runs after each COMMIT.
func (e *Engine) SetAfterCommit(f func()) { e.batch.afterCommit = f }

// WALChangeCounter reads the change counter of the file's WAL-index header;
// false when the header cannot be read.
func (e *Engine) WALChangeCounter() (uint32, bool) {
	var h [walHeaderSize]byte
	if !e.versions.header(&h) {
		return 0, false
	}
	return walChangeCounter(&h), true
}
