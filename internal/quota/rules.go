package quota

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of request parameters.
const (
	MaxImageNameLen        = 24
	MaxImageDescriptionLen = 255
	MaxClientTokenLen      = 64
	MaxIDsPerRequest       = 100
	// MaxIDLen bounds any id given in a request.
	MaxIDLen = 64
)

// CheckID validates one id given as param: 1-64 characters and no NUL, which
// PostgreSQL cannot store in text and no id holds.
func CheckID(param, id string) error {
	if id == "" {
		return Errorf(CodeLessLength, "%s must not be empty.", param)
	}
	if n := utf8.RuneCountInString(id); n > MaxIDLen {
		return Errorf(CodeExceedLength, "%s must be at most %d characters; it has %d.", param, MaxIDLen, n)
	}
	if strings.IndexByte(id, 0) >= 0 {
		return Errorf(CodeInvalidParameterValue, "%s must not contain NUL characters.", param)
	}
	return nil
}

// CheckIDs validates a list of ids given as param: at most MaxIDsPerRequest,
// each one valid. The same id may appear more than once.
func CheckIDs(param string, ids []string) error { return checkIDs(param, ids, false) }

// CheckDistinctIDs is CheckIDs for a list that names each id once.
func CheckDistinctIDs(param string, ids []string) error { return checkIDs(param, ids, true) }

// checkIDs reports the first bad id, in list order, whatever is wrong with it.
func checkIDs(param string, ids []string, distinct bool) error {
	if len(ids) > MaxIDsPerRequest {
		return Errorf(CodeExceedLength, "%s may hold at most %d ids; it holds %d.", param, MaxIDsPerRequest, len(ids))
	}
	for i, id := range ids {
		if err := CheckID(param+"."+strconv.Itoa(i), id); err != nil {
			return err
		}
		if distinct && slices.Contains(ids[:i], id) {
			return Errorf(CodeInvalidParameterValue, "%s holds %q more than once.", param, id)
		}
	}
	return nil
}

var imageNamePattern = regexp.MustCompile(`^[A-Za-z0-9\p{Han}._-]+$`)

// CheckImageName validates an image name given as parameter param.
func CheckImageName(param, name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		return Errorf(CodeLessLength, "%s must be 1-%d characters; it is empty.", param, MaxImageNameLen)
	case n > MaxImageNameLen:
		return Errorf(CodeExceedLength, "%s must be 1-%d characters; %q has %d.", param, MaxImageNameLen, name, n)
	case strings.IndexByte(name, 0) >= 0:
		return Errorf(CodeInvalidParameterValue, "%s must not contain NUL characters.", param)
	case !imageNamePattern.MatchString(name):
		return Errorf(CodePatternError, "%s %q may contain only letters, digits, Chinese characters, '-', '_' and '.'.", param, name)
	}
	return nil
}

// CheckImageDescription validates an image description.
func CheckImageDescription(param, d string) error {
	if !utf8.ValidString(d) {
		return Errorf(CodeInvalidParameterValue, "%s is not valid UTF-8.", param)
	}
	if n := utf8.RuneCountInString(d); n > MaxImageDescriptionLen {
		return Errorf(CodeExceedLength, "%s must be at most %d characters; it has %d.", param, MaxImageDescriptionLen, n)
	}
	if strings.IndexByte(d, 0) >= 0 {
		return Errorf(CodeInvalidParameterValue, "%s must not contain NUL characters.", param)
	}
	return nil
}

// CheckClientToken validates an idempotency token.
func CheckClientToken(param, t string) error {
	if len(t) > MaxClientTokenLen {
		return Errorf(CodeExceedLength, "%s must be at most %d characters; it has %d.", param, MaxClientTokenLen, len(t))
	}
	for _, r := range t {
		if r < 0x21 || r > 0x7e {
			return Errorf(CodePatternError, "%s may contain only printable ASCII characters.", param)
		}
	}
	return nil
}

// CheckLimit validates a limit value.
func CheckLimit(n int) error {
	if n < 0 {
		return Errorf(CodeLessMinimum, "maxCount must be at least 0; it is %d.", n)
	}
	if n > MaxLimit {
		return Errorf(CodeExceedMaximum, "maxCount must be at most %d; it is %d.", MaxLimit, n)
	}
	return nil
}

// publicImage describes an entry of the built-in public image catalogue.
type publicImage struct {
	name, category, osType, version string
	sizeGB                          int
}

var publicImages = []publicImage{
	{"Ubuntu 20.04", "Ubuntu", "linux", "20.04", 20},
	{"Ubuntu 22.04", "Ubuntu", "linux", "22.04", 20},
	{"Debian 12", "Debian", "linux", "12", 20},
	{"CentOS 7.9", "CentOS", "linux", "7.9", 20},
	{"Windows Server 2019", "Windows", "windows", "2019", 40},
	{"Windows Server 2022", "Windows", "windows", "2022", 40},
}

// PublicImages returns the public images offered in a location. Their ids are
// stable: derived from the location and the image.
func PublicImages(locationID string) []Image {
	out := make([]Image, 0, len(publicImages))
	for _, p := range publicImages {
		sum := sha256.Sum256([]byte(locationID + "/" + p.name))
		out = append(out, Image{
			ID:         "img-" + hex.EncodeToString(sum[:8]),
			Type:       ImageTypePublic,
			LocationID: locationID,
			Name:       p.name,
			SizeGB:     p.sizeGB,
			Category:   p.category,
			OSType:     p.osType,
			Version:    p.version,
		})
	}
	return out
}
