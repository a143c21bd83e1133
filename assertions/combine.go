package assertions

import (
	"sort"
	"strconv"
	"strings"
)

// CombineAWS joins the Responses planned for several accounts into one that lists their roles
// together, as a client that signs in to "every role the user holds" needs (AWS's role picker, or
// saml2aws's, lists them). One Response carries one set of session attributes for every role in it,
// so a plan goes in only when its own account would have produced exactly that set on its own: the
// same RoleSessionName, SessionDuration, session tags (transitive keys included), SourceIdentity,
// ACS and authentication context. No account's session ever gets a tag, a duration or a source
// identity its settings would not give it. Of the groups of plans that agree, the one with the most
// accounts wins, ties going to the group of the earliest plan; plans must come in a stable order
// (by account ID). CombineAWS returns the combined Response and the indexes of the plans left out.
func CombineAWS(plans []*AWSResponse) (*AWSResponse, []int) {
	if len(plans) == 0 {
		return nil, nil
	}
	groups := map[string][]int{}
	var order []string
	for i, p := range plans {
		k := sessionKey(p)
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	best := order[0]
	for _, k := range order[1:] {
		if len(groups[k]) > len(groups[best]) {
			best = k
		}
	}
	in := groups[best]
	out := *plans[in[0]]
	out.Roles = nil
	chosen := make([]bool, len(plans)) // not slices.Contains(in, i) for each plan: the square of the accounts
	for _, i := range in {
		chosen[i] = true
		out.Roles = append(out.Roles, plans[i].Roles...)
	}
	sort.Slice(out.Roles, func(i, j int) bool { return out.Roles[i].RoleARN < out.Roles[j].RoleARN })
	var left []int
	for i := range plans {
		if !chosen[i] {
			left = append(left, i)
		}
	}
	return &out, left
}

// sessionKey is everything of a plan that applies to every role in its Response.
func sessionKey(p *AWSResponse) string {
	tags := make([]string, len(p.Tags))
	for i, t := range p.Tags {
		tags[i] = strconv.Quote(t.Key) + "=" + strconv.Quote(t.Value) + "/" + strconv.FormatBool(t.Transitive)
	}
	sort.Strings(tags)
	return strings.Join([]string{strconv.Quote(p.ACS), strconv.Quote(p.SessionName), p.SessionDuration.String(),
		strconv.Quote(p.SourceIdentity), strconv.Quote(p.AuthnContext), strings.Join(tags, ",")}, "|")
}
