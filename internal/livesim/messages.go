package livesim

import (
	"hash/crc32"
	"strconv"
)

// User is a simulated viewer.
type User struct {
	UID        int64
	Name       string
	UserLevel  int64
	GuardLevel int64 // in the room being written to: 0 none, 1..3
	MedalLevel int64 // 0 = no medal
	MedalName  string
	MedalOwner string // anchor name
	MedalRoom  int64
	MedalRUID  int64 // anchor uid
	Wealth     int64
}

// midHash is the lowercase hex CRC32 of the decimal uid (PROTOCOL.md §5.1).
func midHash(uid int64) string {
	var b [20]byte
	return hex8(crc32.ChecksumIEEE(strconv.AppendInt(b[:0], uid, 10)), hexDigits)
}

// hex8 formats v as 8 hex digits (zero-padded) using digits as the alphabet
// (lower or upper case).
func hex8(v uint32, digits string) string {
	var h [8]byte
	for i := 7; i >= 0; i-- {
		h[i] = digits[v&0xf]
		v >>= 4
	}
	return string(h[:])
}

// Danmaku describes one DANMU_MSG to write.
type Danmaku struct {
	User       User
	Text       string
	IDStr      string // unique id, 34-36 hex chars
	TsMs       int64
	Rnd        int64
	Color      int64
	Sticker    string // emoticon_unique; "" for text
	StickerURL string
	ReplyUID   int64
	ReplyName  string
	Mirror     bool // DANMU_MSG_MIRROR with extra.is_mirror
	Suffix     string
	Masked     bool   // anonymous receiver: uid 0, name first char + ***, UL 0; medal and avatar stay (§10.1)
	Ct         string // info[9].ct, 8 hex chars; gethistory's check_info.ct
}

// maskName masks a user name the way anonymous connections see it.
func maskName(name string) string {
	for _, r := range name {
		return string(r) + "***"
	}
	return "***"
}

// AppendDanmaku appends a DANMU_MSG command in the 2025–2026 shape
// (18-element info, info[0][15] with extra as a JSON string and a user
// object), as the real service sends it.
func AppendDanmaku(dst []byte, d *Danmaku) []byte {
	uid, name := d.User.UID, d.User.Name
	ul := d.User.UserLevel
	hash := midHash(d.User.UID)
	if d.Masked {
		uid, name, ul = 0, maskName(name), 0
	}
	dmType := int64(0)
	if d.Sticker != "" {
		dmType = 1
	}
	cmd := "DANMU_MSG"
	if d.Mirror {
		cmd = "DANMU_MSG_MIRROR"
	}
	dst = append(dst, `{"cmd":"`...)
	dst = append(dst, cmd...)
	dst = append(dst, d.Suffix...)
	dst = append(dst, `","dm_v2":"","info":[[0,1,25,`...)
	dst = appendInt(dst, d.Color)
	dst = append(dst, ',')
	dst = appendInt(dst, d.TsMs)
	dst = append(dst, ',')
	dst = appendInt(dst, d.Rnd)
	dst = append(dst, `,0,"`...)
	dst = append(dst, hash...)
	dst = append(dst, `",0,0,0,"",`...)
	dst = appendInt(dst, dmType)
	dst = append(dst, ',')
	if d.Sticker != "" {
		dst = append(dst, `{"bulge_display":1,"emoticon_unique":`...)
		dst = appendJSONString(dst, d.Sticker)
		dst = append(dst, `,"height":20,"in_player_area":1,"is_dynamic":0,"url":`...)
		dst = appendJSONString(dst, d.StickerURL)
		dst = append(dst, `,"width":20}`...)
	} else {
		dst = append(dst, `"{}"`...)
	}
	// extra: a JSON document carried as a string, written escaped in
	// place (its static parts are escaped once, at start-up).
	dst = append(dst, `,"{}",{"extra":"`...)
	dst = append(dst, extraColor...)
	dst = appendInt(dst, d.Color)
	dst = append(dst, extraDmType...)
	dst = appendInt(dst, dmType)
	dst = append(dst, extraContent...)
	dst = appendNestedString(dst, d.Text)
	dst = append(dst, extraUserHash...)
	h, _ := strconv.ParseUint(hash, 16, 32)
	dst = strconv.AppendUint(dst, h, 10)
	dst = append(dst, extraEmoticon...)
	dst = appendNestedString(dst, d.Sticker)
	dst = append(dst, extraIDStr...)
	dst = append(dst, d.IDStr...) // hex: nothing to escape
	dst = append(dst, extraReplyMid...)
	dst = appendInt(dst, d.ReplyUID)
	dst = append(dst, extraReplyUname...)
	dst = appendNestedString(dst, d.ReplyName)
	dst = append(dst, extraReplyType...)
	if d.ReplyUID != 0 {
		dst = append(dst, '1')
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, extraHitCombo...)
	if d.Mirror {
		dst = append(dst, extraMirror...)
	}
	dst = append(dst, '}', '"')
	dst = append(dst, `,"mode":0,"show_player_type":0,"user":{"base":{"face":"https://i0.hdslb.com/bfs/face/member/noface.jpg","is_mystery":false,"name":`...)
	dst = appendJSONString(dst, name)
	dst = append(dst, `,"name_color":0,"name_color_str":"","official_info":{"desc":"","role":0,"title":"","type":-1},"origin_info":{"face":"https://i0.hdslb.com/bfs/face/member/noface.jpg","name":`...)
	dst = appendJSONString(dst, name)
	dst = append(dst, `}},"guard_leader":{"is_guard_leader":false},"medal":`...)
	u := &d.User
	if u.MedalLevel > 0 {
		dst = append(dst, `{"color":9272486,"color_border":9272486,"color_end":9272486,"color_start":9272486,"guard_icon":"","guard_level":`...)
		dst = appendInt(dst, u.GuardLevel)
		dst = append(dst, `,"honor_icon":"","id":418510,"is_light":1,"level":`...)
		dst = appendInt(dst, u.MedalLevel)
		dst = append(dst, `,"name":`...)
		dst = appendJSONString(dst, u.MedalName)
		dst = append(dst, `,"ruid":`...)
		dst = appendInt(dst, u.MedalRUID)
		dst = append(dst, `,"score":26271,"typ":0,"user_receive_count":0,"v2_medal_color_border":"#596FE099","v2_medal_color_end":"#596FE099","v2_medal_color_level":"#000B7099","v2_medal_color_start":"#596FE099","v2_medal_color_text":"#FFFFFFFF"}`...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"title":{"old_title_css_id":"","title_css_id":""},"uid":`...)
	dst = appendInt(dst, uid)
	dst = append(dst, `}},{"activity_identity":"","activity_source":0,"not_show":0},0],`...)
	dst = appendJSONString(dst, d.Text)
	dst = append(dst, ",["...)
	dst = appendInt(dst, uid)
	dst = append(dst, ',')
	dst = appendJSONString(dst, name)
	dst = append(dst, `,0,0,0,10000,1,`...)
	dst = appendJSONString(dst, guardColor(u.GuardLevel))
	dst = append(dst, "],"...)
	if u.MedalLevel > 0 {
		dst = append(dst, '[')
		dst = appendInt(dst, u.MedalLevel)
		dst = append(dst, ',')
		dst = appendJSONString(dst, u.MedalName)
		dst = append(dst, ',')
		dst = appendJSONString(dst, u.MedalOwner)
		dst = append(dst, ',')
		dst = appendInt(dst, u.MedalRoom)
		dst = append(dst, `,9272486,"",0,9272486,9272486,9272486,`...)
		dst = appendInt(dst, u.GuardLevel)
		dst = append(dst, ",1,"...)
		dst = appendInt(dst, u.MedalRUID)
		dst = append(dst, ']')
	} else {
		dst = append(dst, "[]"...)
	}
	dst = append(dst, ",["...)
	dst = appendInt(dst, ul)
	dst = append(dst, `,0,9868950,">50000",0],["",""],0,`...)
	dst = appendInt(dst, u.GuardLevel)
	dst = append(dst, `,null,{"ct":"`...)
	dst = append(dst, d.Ct...)
	dst = append(dst, `","ts":`...)
	dst = appendInt(dst, d.TsMs/1000)
	dst = append(dst, `},0,0,null,null,0,104,[`...)
	dst = appendInt(dst, u.Wealth)
	dst = append(dst, "],null]}"...)
	return dst
}

// The static parts of DANMU_MSG's extra document, escaped for the string
// that carries it.
var (
	extraColor      = nested(`{"send_from_me":false,"master_player_hidden":false,"mode":0,"color":`)
	extraDmType     = nested(`,"dm_type":`)
	extraContent    = nested(`,"font_size":25,"player_mode":1,"show_player_type":0,"content":`)
	extraUserHash   = nested(`,"user_hash":"`)
	extraEmoticon   = nested(`","emoticon_unique":`)
	extraIDStr      = nested(`,"bulge_display":0,"recommend_score":2,"main_state_dm_color":"","objective_state_dm_color":"","direction":0,"pk_direction":0,"quartet_direction":0,"anniversary_crowd":0,"yeah_space_type":"","yeah_space_url":"","jump_to_url":"","space_type":"","space_url":"","animation":{},"emots":null,"is_audited":false,"id_str":"`)
	extraReplyMid   = nested(`","icon":null,"show_reply":true,"reply_mid":`)
	extraReplyUname = nested(`,"reply_uname":`)
	extraReplyType  = nested(`,"reply_uname_color":"","reply_is_mystery":false,"reply_type_enum":`)
	extraHitCombo   = nested(`,"hit_combo":0,"esports_jump_url":""`)
	extraMirror     = nested(`,"is_mirror":true,"is_collaboration_member":false`)
)

// guardColor is info[2][7]: the name colour of guard members.
func guardColor(level int64) string {
	switch level {
	case 1:
		return "#FF7C28"
	case 2:
		return "#E17AFF"
	case 3:
		return "#00D1F1"
	}
	return ""
}
