package sqlstore

import (
	"database/sql"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/switchboard-gw/switchboard"
)

func TestWhere(t *testing.T) {
	t.Parallel()
	for _, numbered := range []bool{false, true} {
		w := Where{Numbered: numbered}
		w.Add("a = ?", 1)
		In(&w, "s", []switchboard.Status{switchboard.StatusSent, switchboard.StatusFailed})
		In(&w, "none", []string(nil))
		w.Add("b BETWEEN ? AND ?", 2, 3)
		want := " WHERE a = ? AND s IN (?, ?) AND b BETWEEN ? AND ?"
		if numbered {
			want = " WHERE a = $1 AND s IN ($2, $3) AND b BETWEEN $4 AND $5"
		}
		if got := w.SQL(); got != want {
			t.Errorf("numbered %v: %q, want %q", numbered, got, want)
		}
		if want := []any{1, switchboard.StatusSent, switchboard.StatusFailed, 2, 3}; !reflect.DeepEqual(w.Args, want) {
			t.Errorf("args %v, want %v", w.Args, want)
		}
		if next := w.Next(); numbered && next != "$6" || !numbered && next != "?" {
			t.Errorf("next %q", next)
		}
	}
	if (&Where{}).SQL() != "" {
		t.Error("no conditions, still a WHERE")
	}
}

func TestLimitAndPage(t *testing.T) {
	t.Parallel()
	for in, want := range map[int]int{-1: DefaultLimit, 0: DefaultLimit, 7: 7, MaxLimit + 1: MaxLimit} {
		if got := Limit(in); got != want {
			t.Errorf("Limit(%d) = %d, want %d", in, got, want)
		}
	}
	key := func(i int) string { return strconv.Itoa(i) }
	if items, next := Page([]int{1, 2, 3}, 3, key); len(items) != 3 || next != "" {
		t.Errorf("a full last page: %v %q", items, next)
	}
	if items, next := Page([]int{1, 2, 3, 4}, 3, key); len(items) != 3 || next != "3" {
		t.Errorf("a page with more: %v %q", items, next)
	}
}

func TestJSONColumns(t *testing.T) {
	t.Parallel()
	if v, err := JSONList([]string(nil)); v != nil || err != nil {
		t.Errorf("empty list: %v %v", v, err)
	}
	if v, _ := JSONList([]string{"a"}); v != `["a"]` {
		t.Errorf("list: %v", v)
	}
	if v, _ := JSONMap(map[string]string{}); v != nil {
		t.Errorf("empty map: %v", v)
	}
	if RawJSON(nil) != nil || RawJSON([]byte(`{}`)) != "{}" || NullString("") != nil || NullString("x") != "x" {
		t.Error("raw JSON or NULL string")
	}
	types, secrets, err := EndpointJSON(&switchboard.Endpoint{})
	if err != nil || types != "null" || secrets != "[]" {
		t.Errorf("endpoint JSON: %q %q %v", types, secrets, err)
	}
}

type fakeRows struct {
	n, i int
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= r.n }
func (r *fakeRows) Scan(dest ...any) error {
	*dest[0].(*int) = r.i
	return nil
}
func (r *fakeRows) Err() error { return sql.ErrConnDone }

func TestCollect(t *testing.T) {
	t.Parallel()
	got, err := Collect(&fakeRows{n: 3}, func(s Scanner) (int, error) {
		var v int
		return v, s.Scan(&v)
	})
	if !reflect.DeepEqual(got, []int{1, 2, 3}) || !errors.Is(err, sql.ErrConnDone) {
		t.Errorf("Collect = %v, %v; want the rows and the rows' error", got, err)
	}
}

func TestListQuery(t *testing.T) {
	t.Parallel()
	w := Where{Numbered: true}
	w.Add("phone = ?", "+1555")
	q, args := ListQuery(&w, "SELECT id FROM t", "id", "ref_9", 10)
	if q != "SELECT id FROM t WHERE phone = $1 AND id < $2 ORDER BY id DESC LIMIT $3" || !reflect.DeepEqual(args, []any{"+1555", "ref_9", 11}) {
		t.Errorf("%q %v", q, args)
	}
	w = Where{}
	q, args = ListQuery(&w, "SELECT id FROM t", "id", "", 10)
	if q != "SELECT id FROM t ORDER BY id DESC LIMIT ?" || !reflect.DeepEqual(args, []any{11}) {
		t.Errorf("%q %v", q, args)
	}
	for in, want := range map[int]int{0: 100, 5: 5, 1000: 1000, 1001: 100} {
		if got := LimitOr(in, 100); got != want {
			t.Errorf("LimitOr(%d, 100) = %d, want %d", in, got, want)
		}
	}
	if s, _ := JSONArray([]int(nil)); s != "[]" {
		t.Errorf("JSONArray(nil) = %q", s)
	}
}

func TestMessageJSON(t *testing.T) {
	t.Parallel()
	media, meta, wa, err := MessageJSON(&switchboard.Message{MediaURLs: []string{"https://m"}})
	if err != nil || media != `["https://m"]` || meta != nil || wa != "" {
		t.Errorf("MessageJSON = %v, %v, %q, %v", media, meta, wa, err)
	}
}
