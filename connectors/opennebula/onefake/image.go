package onefake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slipstream/terraform-provider-slipstream/connectors/fakecloud"
)

// OpenNebula's image states (include/Image.h).
const (
	imageReady  = 1
	imageUsed   = 2
	imageLocked = 4
	imageError  = 5
)

var imageStateNames = map[int]string{imageReady: "READY", imageUsed: "USED", imageLocked: "LOCKED", imageError: "ERROR"}

// imageRecord is what the fake keeps of an image beyond the Cloud's: its
// template (one.image.update writes it; disksaveas starts it).
type imageRecord struct {
	template *Template
}

// imageInfo is an image as the API shows it.
type imageInfo struct {
	id       int
	name     string
	uid      int
	uname    string
	sizeMB   int
	state    int
	running  int
	regtime  int64
	template *Template
}

// image reads image id from the Cloud, with the fake's record: oneadmin's
// unless the Cloud says whose it is (disksaveas gives the user's).
func (f *Fake) image(id int) (imageInfo, bool) {
	img, err := f.cloud.Image(strconv.Itoa(id))
	if err != nil {
		return imageInfo{}, false
	}
	return f.imageOf(id, img), true
}

func (f *Fake) imageOf(id int, img fakecloud.Image) imageInfo {
	info := imageInfo{id: id, name: img.Name, uid: oneadminID, uname: oneadmin, sizeMB: f.opts.DefaultImageMB, regtime: img.Created.Unix()}
	if owner, _ := img.Extra["owner"].(string); owner == f.opts.Username {
		info.uid, info.uname = f.opts.UserID, owner
	}
	if n, ok := img.Extra["size_mb"].(int); ok && n > 0 {
		info.sizeMB = n
	}
	switch img.State {
	case "available":
		info.state = imageReady
	case "pending":
		info.state = imageLocked
	default:
		info.state = imageError
	}
	for _, m := range f.cloud.Machines(fakecloud.Live) {
		if m.ImageID == img.ID {
			info.running++
		}
	}
	if info.state == imageReady && info.running > 0 {
		info.state = imageUsed
	}
	f.mu.Lock()
	if rec := f.images[id]; rec != nil {
		info.template = rec.template.Clone()
	}
	f.mu.Unlock()
	if info.template == nil {
		info.template = &Template{}
	}
	if info.state == imageError {
		info.template.Set("ERROR", "the image's copy failed")
	}
	return info
}

// imageByName finds the image named name owned by owner.
func (f *Fake) imageByName(name, owner string) (imageInfo, bool) {
	for _, img := range f.cloud.Images() {
		if img.Name != name {
			continue
		}
		id, err := strconv.Atoi(img.ID)
		if err != nil {
			continue
		}
		if info := f.imageOf(id, img); info.uname == owner {
			return info, true
		}
	}
	return imageInfo{}, false
}

func (f *Fake) imageInfo(_ context.Context, p params) (any, *oneErr) {
	id := p.int(0, -1)
	img, ok := f.image(id)
	if !ok {
		return nil, errNoExists(p.method, "image", id)
	}
	return imageXML(img), nil
}

// imageUpdate replaces (type 0) or merges (type 1) an image's template.
func (f *Fake) imageUpdate(_ context.Context, p params) (any, *oneErr) {
	id := p.int(0, -1)
	if _, ok := f.image(id); !ok {
		return nil, errNoExists(p.method, "image", id)
	}
	t, err := ParseTemplate(p.str(1))
	if err != nil {
		return nil, errInternal(p.method, "Error parsing template: "+err.Error(), id)
	}
	mode := p.int(2, 0)
	if mode != 0 && mode != 1 {
		return nil, errAPI(p.method, "Wrong update type")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := f.images[id]
	if rec == nil {
		rec = &imageRecord{template: &Template{}}
		f.images[id] = rec
	}
	if mode == 0 {
		rec.template = t
	} else {
		rec.template.Merge(t)
	}
	return id, nil
}

// imageDelete deletes an image no VM uses.
func (f *Fake) imageDelete(_ context.Context, p params) (any, *oneErr) {
	id := p.int(0, -1)
	img, ok := f.image(id)
	if !ok {
		return nil, errNoExists(p.method, "image", id)
	}
	if img.running > 0 {
		return nil, errAction(p.method, fmt.Sprintf("Cannot delete image. There are %d VMs using it.", img.running), id)
	}
	if err := f.cloud.DeleteImage(strconv.Itoa(id)); err != nil {
		if errors.Is(err, fakecloud.ErrImageNotFound) {
			return nil, errNoExists(p.method, "image", id)
		}
		if errors.Is(err, fakecloud.ErrIncorrectState) {
			// The fake's images share layers: one saved from a VM of
			// this image keeps it.
			return nil, errAction(p.method, "Cannot delete image. "+err.Error(), id)
		}
		return nil, errInternal(p.method, err.Error(), id)
	}
	f.mu.Lock()
	delete(f.images, id)
	f.mu.Unlock()
	return id, nil
}

// imagePoolInfo lists the images: the user's (who -3 or the user's id),
// or those it can use (-2, -1: oneadmin's base images too).
func (f *Fake) imagePoolInfo(_ context.Context, p params) (any, *oneErr) {
	who, start, end := p.int(0, -2), p.int(1, -1), p.int(2, -1)
	if who < -4 {
		return nil, errAPI(p.method, "Incorrect filter_flag, must be >= -4.")
	}
	var infos []imageInfo
	for _, img := range f.cloud.Images() {
		id, err := strconv.Atoi(img.ID)
		if err != nil || start >= 0 && id < start || end >= 0 && id > end {
			continue
		}
		info := f.imageOf(id, img)
		if (who == -3 || who >= 0) && info.uid != f.opts.UserID {
			continue
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b imageInfo) int { return a.id - b.id })
	var b strings.Builder
	b.WriteString("<IMAGE_POOL>")
	for _, info := range infos {
		b.WriteString(imageXML(info))
	}
	b.WriteString("</IMAGE_POOL>")
	return b.String(), nil
}

// imageXML is Image::to_xml.
func imageXML(img imageInfo) string {
	var b bytes.Buffer
	gid, gname := usersGroup, usersGName
	if img.uid == oneadminID {
		gid, gname = oneadminGID, oneadmin
	}
	fmt.Fprintf(&b, "<IMAGE><ID>%d</ID><UID>%d</UID><GID>%d</GID>", img.id, img.uid, gid)
	element(&b, "UNAME", img.uname)
	element(&b, "GNAME", gname)
	element(&b, "NAME", img.name)
	b.WriteString("<LOCK/>" + sharedPermissions)
	fmt.Fprintf(&b, "<TYPE>0</TYPE><DISK_TYPE>0</DISK_TYPE><PERSISTENT>0</PERSISTENT><REGTIME>%d</REGTIME>", img.regtime)
	element(&b, "SOURCE", fmt.Sprintf("/var/lib/one//datastores/1/image-%d", img.id))
	fmt.Fprintf(&b, "<PATH/><FORMAT>qcow2</FORMAT><FS/><SIZE>%d</SIZE><STATE>%d</STATE><PREV_STATE>%d</PREV_STATE>", img.sizeMB, img.state, img.state)
	fmt.Fprintf(&b, "<RUNNING_VMS>%d</RUNNING_VMS><CLONING_OPS>0</CLONING_OPS><CLONING_ID>-1</CLONING_ID><TARGET_SNAPSHOT>-1</TARGET_SNAPSHOT>", img.running)
	b.WriteString("<DATASTORE_ID>1</DATASTORE_ID><DATASTORE>default</DATASTORE><VMS/><CLONES/><APP_CLONES/>")
	b.WriteString(img.template.XML("TEMPLATE"))
	b.WriteString("<SNAPSHOTS><ALLOW_ORPHANS>NO</ALLOW_ORPHANS><CURRENT_BASE>-1</CURRENT_BASE><NEXT_SNAPSHOT>0</NEXT_SNAPSHOT></SNAPSHOTS>")
	b.WriteString("<BACKUP_INCREMENTS/><BACKUP_DISK_IDS/></IMAGE>")
	return b.String()
}

// sharedPermissions let every user use the object (um-u--u--: 644).
const sharedPermissions = "<PERMISSIONS><OWNER_U>1</OWNER_U><OWNER_M>1</OWNER_M><OWNER_A>0</OWNER_A><GROUP_U>1</GROUP_U><GROUP_M>0</GROUP_M>" +
	"<GROUP_A>0</GROUP_A><OTHER_U>1</OTHER_U><OTHER_M>0</OTHER_M><OTHER_A>0</OTHER_A></PERMISSIONS>"
