//go:build !linux

package diskstore

// readsNowait is false here: there is no way to ask the kernel to read a
// file only from its page cache, so TryGet never answers.
const readsNowait = false

// openNoatime is 0: files are opened without O_NOATIME here.
const openNoatime = 0

func (f *openFD) readNowait(int64) ([]byte, error) { return nil, errNowaitUnsupported }

func (f *openFD) stillKept(int64) error { return errNowaitUnsupported }

func lookupCached(string) (bool, *openFD, error) { return false, nil, errNowaitUnsupported }
