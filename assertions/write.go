package assertions

import (
	"bytes"

	"github.com/beevik/etree"
)

// xmlDecl is the declaration a Response starts with, as etree writes the ProcInst.
const xmlDecl = `<?xml version="1.0" encoding="UTF-8"?>`

// writeResponse serializes the signed Response once, into one buffer of about its size: the bytes
// etree's Document.WriteTo writes with the default settings, without its bufio buffer, the
// doubling of a bytes.Buffer from empty, or a string for every tag (Element.FullTag).
func writeResponse(resp *etree.Element, sizeHint int) []byte {
	var buf bytes.Buffer
	buf.Grow(sizeHint)
	buf.WriteString(xmlDecl)
	writeElement(&buf, resp, &etree.WriteSettings{})
	return buf.Bytes()
}

// writeElement is etree's Element.WriteTo with the tag written in its two parts. Attributes and
// every other token are written by etree itself.
func writeElement(w *bytes.Buffer, e *etree.Element, s *etree.WriteSettings) {
	w.WriteByte('<')
	writeTag(w, e)
	for i := range e.Attr {
		w.WriteByte(' ')
		e.Attr[i].WriteTo(w, s)
	}
	if len(e.Child) == 0 {
		w.WriteString("/>")
		return
	}
	w.WriteByte('>')
	for _, c := range e.Child {
		if el, ok := c.(*etree.Element); ok {
			writeElement(w, el, s)
		} else {
			c.WriteTo(w, s)
		}
	}
	w.WriteString("</")
	writeTag(w, e)
	w.WriteByte('>')
}

func writeTag(w *bytes.Buffer, e *etree.Element) {
	if e.Space != "" {
		w.WriteString(e.Space)
		w.WriteByte(':')
	}
	w.WriteString(e.Tag)
}
