package v1alpha1

// IOChaos delays or fails file system calls, or returns wrong data or file
// attributes, under a volume of the selected pods (chaos-mesh.org/v1alpha1).
type IOChaos struct {
	// TypeMeta is apiVersion chaos-mesh.org/v1alpha1 and the kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's name, namespace, labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says which file operations are hit and how.
	Spec IOChaosSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// IOChaosAction is the kind of IO fault.
type IOChaosAction string

// IOChaos actions.
const (
	// IOLatency delays matched operations by `delay`.
	IOLatency IOChaosAction = "latency"
	// IOFault makes matched operations fail with `errno`.
	IOFault IOChaosAction = "fault"
	// IOAttrOverride reports the attributes in `attr` instead of the real ones.
	IOAttrOverride IOChaosAction = "attrOverride"
	// IOMistake returns or writes wrong data, as described by `mistake`.
	IOMistake IOChaosAction = "mistake"
)

// IOChaosSpec is the fault of an IOChaos.
type IOChaosSpec struct {
	// ContainerSelector chooses the pods and the containers whose volume is
	// hit.
	ContainerSelector `json:",inline"`
	// Action is latency, fault, attrOverride or mistake. Required.
	Action IOChaosAction `json:"action"`
	// Delay added to each matched operation, e.g. "100ms". Required by latency.
	Delay string `json:"delay,omitempty"`
	// Errno returned by matched operations, e.g. 5 (EIO) or 28 (ENOSPC).
	// Required by fault; must not be 0.
	Errno uint32 `json:"errno,omitempty"`
	// Attr are the file attributes reported instead of the real ones.
	// Required by attrOverride.
	Attr *AttrOverrideSpec `json:"attr,omitempty"`
	// Mistake describes the wrong data. Required by mistake.
	Mistake *MistakeSpec `json:"mistake,omitempty"`
	// Path is a glob of the files hit, e.g. "/var/run/etcd/**/*".
	// Default: every file under volumePath.
	Path string `json:"path,omitempty"`
	// Methods are the file operations hit, e.g. [read, write] (FUSE names:
	// lookup, getattr, open, read, write, fsync, mkdir, unlink, ...; case
	// does not matter). Default: all operations.
	Methods []string `json:"methods,omitempty"`
	// Percent of matched operations that are hit, from 0 to 100. Default 100.
	Percent *int `json:"percent,omitempty"`
	// VolumePath is the mount point of the volume to inject into, e.g.
	// /var/run/etcd. Required.
	VolumePath string `json:"volumePath"`
	// Duration the fault lasts, e.g. "400s". Default: until the experiment
	// ends. In a Workflow use the template's deadline instead.
	Duration *string `json:"duration,omitempty"`
	// RemoteCluster names the Chaos Mesh RemoteCluster to run in; only the
	// Kubernetes engine uses it.
	RemoteCluster string `json:"remoteCluster,omitempty"`
}

// GetDuration returns the fault's duration string, nil when unset.
func (s *IOChaosSpec) GetDuration() *string { return s.Duration }

// PercentOrDefault returns percent, 100 when unset.
func (s *IOChaosSpec) PercentOrDefault() int {
	if s.Percent == nil {
		return 100
	}
	return *s.Percent
}

// IOMethods lists the file operations IOChaos methods may name (FUSE names,
// lower case).
func IOMethods() []string {
	return []string{"lookup", "forget", "getattr", "setattr", "readlink", "mknod", "mkdir",
		"unlink", "rmdir", "symlink", "rename", "link", "open", "read", "write", "flush",
		"release", "fsync", "opendir", "readdir", "releasedir", "fsyncdir", "statfs",
		"setxattr", "getxattr", "listxattr", "removexattr", "access", "create", "getlk",
		"setlk", "bmap"}
}

// FileType is a kind of file, as reported in file attributes.
type FileType string

// File types for attr.kind.
const (
	FileTypeNamedPipe   FileType = "namedPipe"
	FileTypeCharDevice  FileType = "charDevice"
	FileTypeBlockDevice FileType = "blockDevice"
	FileTypeDirectory   FileType = "directory"
	FileTypeRegularFile FileType = "regularFile"
	FileTypeSymlink     FileType = "symlink"
	FileTypeSocket      FileType = "socket"
)

// AttrOverrideSpec lists file attributes to report instead of the real ones;
// unset attributes are left alone. At least one is required.
type AttrOverrideSpec struct {
	// Ino is the inode number.
	Ino *int64 `json:"ino,omitempty"`
	// Size in bytes.
	Size *int64 `json:"size,omitempty"`
	// Blocks is the number of 512-byte blocks allocated.
	Blocks *int64 `json:"blocks,omitempty"`
	// Atime is the last access time.
	Atime *Timespec `json:"atime,omitempty"`
	// Mtime is the last modification time.
	Mtime *Timespec `json:"mtime,omitempty"`
	// Ctime is the last status change time.
	Ctime *Timespec `json:"ctime,omitempty"`
	// Kind of file: namedPipe, charDevice, blockDevice, directory,
	// regularFile, symlink or socket.
	Kind FileType `json:"kind,omitempty"`
	// Perm are the permission bits as a decimal number, from 0 to 4095
	// (octal 07777); e.g. 72 is octal 0110 (--x--x---).
	Perm *int `json:"perm,omitempty"`
	// Nlink is the number of hard links.
	Nlink *uint32 `json:"nlink,omitempty"`
	// UID of the owner.
	UID *uint32 `json:"uid,omitempty"`
	// GID of the owning group.
	GID *uint32 `json:"gid,omitempty"`
	// Rdev is the device number, for device files.
	Rdev *uint32 `json:"rdev,omitempty"`
}

// Timespec is a point in time as Unix seconds and nanoseconds.
type Timespec struct {
	// Sec is seconds since 1970-01-01 UTC. Required.
	Sec int64 `json:"sec"`
	// Nsec is nanoseconds, from 0 to 999999999. Required.
	Nsec int64 `json:"nsec"`
}

// MistakeFilling is what wrong data is made of.
type MistakeFilling string

// Fillings of IO mistakes.
const (
	// FillingZero writes zero bytes.
	FillingZero MistakeFilling = "zero"
	// FillingRandom writes random bytes.
	FillingRandom MistakeFilling = "random"
)

// MistakeSpec describes wrong data returned by reads or written by writes:
// 1 to maxOccurrences segments of up to maxLength bytes each.
type MistakeSpec struct {
	// Filling is zero or random. Required.
	Filling MistakeFilling `json:"filling,omitempty"`
	// MaxOccurrences is the most wrong segments per operation, at least 1. Required.
	MaxOccurrences int64 `json:"maxOccurrences,omitempty"`
	// MaxLength is the most bytes per wrong segment, at least 1. Required.
	MaxLength int64 `json:"maxLength,omitempty"`
}
