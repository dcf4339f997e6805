package csapi

// The structs below carry the fields SlipStream uses, named as in the
// answers of the API reference's request/response dumps; fields an answer
// has and we do not use are left out (and so ignored when decoding).

// Server is a virtual server (Servers / VMs; the full definition is in
// the "Creating" dump and the running one in "Server Runtime and Server
// Details").
type Server struct {
	UUID string `json:"uuid,omitempty"`
	Name string `json:"name"`
	// CPU is the clock in MHz, split over SMP cores.
	CPU int `json:"cpu"`
	SMP int `json:"smp,omitempty"`
	// Mem is the memory in bytes.
	Mem         int64         `json:"mem"`
	VNCPassword string        `json:"vnc_password,omitempty"`
	Status      string        `json:"status,omitempty"`
	Drives      []ServerDrive `json:"drives,omitempty"`
	NICs        []NIC         `json:"nics,omitempty"`
	Meta        Meta          `json:"meta,omitempty"`
	Pubkeys     []Ref         `json:"pubkeys,omitempty"`
	Tags        []Ref         `json:"tags,omitempty"`
	// Runtime is set while the server runs (null when it is stopped).
	Runtime     *ServerRuntime `json:"runtime,omitempty"`
	ResourceURI string         `json:"resource_uri,omitempty"`
}

// Server statuses ("Server State Diagram"). Clones of drives take
// DriveCloning until they can be used.
const (
	StatusStopped     = "stopped"
	StatusStarting    = "starting"
	StatusRunning     = "running"
	StatusStopping    = "stopping"
	StatusPaused      = "paused"
	StatusUnavailable = "unavailable"
)

// ServerDrive attaches a drive to a server: "device" virtio, ide or scsi
// on "dev_channel" controller:unit, booted in "boot_order" (KVM Servers,
// "Device channel").
type ServerDrive struct {
	BootOrder  int    `json:"boot_order,omitempty"`
	DevChannel string `json:"dev_channel"`
	Device     string `json:"device"`
	Drive      Ref    `json:"drive"`
}

// NIC is a network interface: public with ip_v4_conf (dhcp, static or
// manual) or private with a vlan, never both (Network Interfaces).
type NIC struct {
	IPv4Conf *IPConf     `json:"ip_v4_conf,omitempty"`
	Model    string      `json:"model,omitempty"`
	MAC      string      `json:"mac,omitempty"`
	VLAN     *Ref        `json:"vlan,omitempty"`
	Runtime  *NICRuntime `json:"runtime,omitempty"`
}

// IPConf is a NIC's IPv4 configuration; IP is the address of a static
// one.
type IPConf struct {
	Conf string `json:"conf"`
	IP   *Ref   `json:"ip,omitempty"`
}

// ServerRuntime is what a started server has: its NICs' live addresses.
type ServerRuntime struct {
	ActiveSince string       `json:"active_since,omitempty"`
	NICs        []NICRuntime `json:"nics"`
}

// NICRuntime is a NIC's live state: its type ("public" or "private") and
// the address it got, as a reference whose uuid is the address.
type NICRuntime struct {
	InterfaceType string `json:"interface_type"`
	IPv4          *Ref   `json:"ip_v4"`
	MAC           string `json:"mac,omitempty"`
}

// Drive is a drive of the account (Drives), or a library drive read
// through /drives/ (then Owner is nil: Library Drives, "Recognizing
// library drives").
type Drive struct {
	UUID        string `json:"uuid,omitempty"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	Media       string `json:"media"`
	Status      string `json:"status,omitempty"`
	StorageType string `json:"storage_type,omitempty"`
	Meta        Meta   `json:"meta"`
	Owner       *Ref   `json:"owner,omitempty"`
	MountedOn   []Ref  `json:"mounted_on,omitempty"`
	ResourceURI string `json:"resource_uri,omitempty"`
}

// Drive statuses (Drives, "Drive State Diagram", and the clone dump).
const (
	DriveUnmounted   = "unmounted"
	DriveMounted     = "mounted"
	DriveCloning     = "cloning_dst"
	DriveUnavailable = "unavailable"
)

// Drive media.
const (
	MediaDisk  = "disk"
	MediaCDROM = "cdrom"
)

// LibDrive is a drive of the public library: a base image to clone.
type LibDrive struct {
	UUID         string `json:"uuid"`
	Name         string `json:"name"`
	Size         int64  `json:"size"`
	Media        string `json:"media"`
	Status       string `json:"status"`
	StorageType  string `json:"storage_type"`
	OS           string `json:"os"`
	Arch         string `json:"arch"`
	Distribution string `json:"distribution"`
	Version      string `json:"version"`
	ImageType    string `json:"image_type"`
	Meta         Meta   `json:"meta"`
}

// CloneRequest is the optional body of a clone action (Drives,
// "Cloning"): the new drive's name, a size no smaller than the source's
// (a clone can grow, never shrink), media and meta.
type CloneRequest struct {
	Name        string `json:"name,omitempty"`
	Size        int64  `json:"size,omitempty"`
	Media       string `json:"media,omitempty"`
	StorageType string `json:"storage_type,omitempty"`
	Meta        Meta   `json:"meta,omitempty"`
}

// Keypair is an SSH key of the account (Keypairs). The private key the
// API may hold is deliberately not read.
type Keypair struct {
	UUID        string `json:"uuid,omitempty"`
	Name        string `json:"name"`
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint,omitempty"`
	ResourceURI string `json:"resource_uri,omitempty"`
}

// Tag groups resources (Tags).
type Tag struct {
	UUID        string `json:"uuid,omitempty"`
	Name        string `json:"name"`
	Resources   []Ref  `json:"resources,omitempty"`
	Meta        Meta   `json:"meta,omitempty"`
	ResourceURI string `json:"resource_uri,omitempty"`
}

// ActionResult answers a server action: {"action": "start", "result":
// "success", "uuid": …}.
type ActionResult struct {
	Action string `json:"action"`
	Result string `json:"result"`
	UUID   string `json:"uuid"`
}

// Capabilities are a location's limits (Capabilities). Numbers are
// float64 because the API writes some of them as floats
// ("min_size": 1073741824.0).
type Capabilities struct {
	// Servers is deprecated in favour of Hosts but still the limits of
	// the default (amd) hosts.
	Servers            HostLimits             `json:"servers"`
	Hosts              map[string]HostLimits  `json:"hosts"`
	Drives             map[string]DriveLimits `json:"drives"`
	DefaultStorageType string                 `json:"default_storage_type"`
}

// HostLimits bound a server's CPU (MHz), CPU per core (MHz), memory
// (bytes) and cores.
type HostLimits struct {
	CPU       Range `json:"cpu"`
	CPUPerSMP Range `json:"cpu_per_smp"`
	Mem       Range `json:"mem"`
	SMP       Range `json:"smp"`
}

// DriveLimits bound the size of one drive of a storage type, in bytes.
type DriveLimits struct {
	Size    Range   `json:"size"`
	MaxSize float64 `json:"max_size"`
	MinSize float64 `json:"min_size"`
}

// Range is a minimum and a maximum.
type Range struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// ListMeta is the "meta" of a list answer (Pagination).
type ListMeta struct {
	Limit      int `json:"limit"`
	Offset     int `json:"offset"`
	TotalCount int `json:"total_count"`
}

// list is a list answer: {"meta": {...}, "objects": [...]}.
type list[T any] struct {
	Meta    ListMeta `json:"meta"`
	Objects []T      `json:"objects"`
}

// objects is the body of creating calls and the answer of creating and
// clone calls: {"objects": [...]}.
type objects[T any] struct {
	Objects []T `json:"objects"`
}
