package scenarios

import (
	"context"
	"database/sql"
	"fmt"
	"math"
)

var paginationOffset = Scenario{
	ID:       "pagination-offset",
	Title:    "Paging with OFFSET while rows are inserted",
	Category: "Wrong results",
	Statement: "A reader pages through nine posts in a real SQLite database, newest first, three " +
		"at a time, with LIMIT 3 OFFSET n. Between two pages a writer goroutine inserts a newer " +
		"post. Does the reader see every post exactly once?",
	Failure: "No: posts 7, 5, 3 and 1 are read twice. OFFSET 3 means \"skip the first three " +
		"rows of the table as it is now\", not \"continue after the last row I read\". Each new " +
		"post lands at the top, every older row moves down one place, and the last post of a " +
		"page comes back as the first of the next. A delete moves rows up instead, so a row is " +
		"skipped. Oldest-first order does not save OFFSET: new rows then land at the end, " +
		"harmlessly, but a delete still skips a row and a row inserted with an older timestamp " +
		"still repeats one. The scenario makes the writer insert between every two page reads " +
		"(the reader waits for it), so the repeats happen in every run; a real feed gets them " +
		"whenever a write falls between two page requests.",
	Fix: "Page with a keyset cursor: remember the (created_at, id) of the last row read and ask " +
		"for the rows after it, WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC. " +
		"A row's place no longer depends on how many rows came before it, so inserts and deletes " +
		"elsewhere move nothing. The id breaks ties: posts 6 and 7 share a timestamp, and a cursor " +
		"on created_at alone would skip post 6. The interview module's query is right; it needs a " +
		"first cursor above every row (here the largest int64), and posts inserted after paging " +
		"began are not part of this pass: a reader starts again from the top to see them. An " +
		"index on (created_at, id) also makes every page as cheap as the first, where OFFSET n " +
		"reads and throws away n rows.",
	File: "pagination_offset.go",
	Link: "github.com/concviz/concviz/scenarios/sqlite",
	Variants: []Variant{
		{Name: "broken", Expect: Wrong, Run: paginationBroken},
		{Name: "fixed", Expect: OK, Run: paginationFixed},
	},
}

// pageSize is how many posts one page holds.
const pageSize = 3

// post is a row of the posts table.
type post struct {
	id, createdAt int64
}

// String shows a post as its id, which is all a page listing needs.
func (p post) String() string { return fmt.Sprint(p.id) }

// paginationBroken counts its way down the table with OFFSET.
func paginationBroken(ctx context.Context) error {
	offset := 0
	return readEveryPost(ctx, func(db *sql.DB, _ post) ([]post, error) {
		page, err := queryPosts(db, "SELECT id, created_at FROM posts"+
			" ORDER BY created_at DESC, id DESC"+
			" LIMIT ? OFFSET ?", pageSize, offset) // BUG: skips rows as the table is now
		offset += pageSize
		return page, err
	})
}

// paginationFixed asks for the rows after the last one it read.
func paginationFixed(ctx context.Context) error {
	return readEveryPost(ctx, func(db *sql.DB, last post) ([]post, error) {
		return queryPosts(db, "SELECT id, created_at FROM posts"+
			" WHERE (created_at, id) < (?, ?)"+ // FIX: after the last row read, wherever it is now
			" ORDER BY created_at DESC, id DESC"+
			" LIMIT ?", last.createdAt, last.id, pageSize)
	})
}

// readEveryPost reads the posts page by page with nextPage, while a writer
// inserts a newer post between every two pages, and checks that each of
// the nine posts was read once.
func readEveryPost(ctx context.Context, nextPage func(db *sql.DB, last post) ([]post, error)) error {
	db, err := openPosts()
	if err != nil {
		return err
	}
	defer db.Close()

	pageRead := make(chan struct{})
	inserted := make(chan error)
	go insertNewer(ctx, db, pageRead, inserted)
	defer close(pageRead)

	reads := map[int64]int{}
	last := post{createdAt: math.MaxInt64} // above every row: the first page
	for n := 1; ; n++ {
		page, err := nextPage(db, last)
		if err != nil {
			return err
		}
		show(ctx, "page", "%d: %v", n, page)
		for _, p := range page {
			reads[p.id]++
		}
		if len(page) < pageSize {
			break
		}
		last = page[len(page)-1]
		pageRead <- struct{}{} // the writer inserts now, between two pages
		if err := <-inserted; err != nil {
			return err
		}
	}

	var twice, missed []int64
	for id := int64(9); id >= 1; id-- {
		if reads[id] > 1 {
			twice = append(twice, id)
		} else if reads[id] == 0 {
			missed = append(missed, id)
		}
	}
	if len(twice) > 0 || len(missed) > 0 {
		show(ctx, "check", "read twice %v, never read %v", twice, missed)
		return fmt.Errorf("posts read twice: %v, posts never read: %v", twice, missed)
	}
	return nil
}

// insertNewer inserts a post newer than all others each time the reader
// finishes a page, until the reader is done.
func insertNewer(ctx context.Context, db *sql.DB, pageRead <-chan struct{}, inserted chan<- error) {
	id := int64(10)
	for range pageRead {
		_, err := db.Exec("INSERT INTO posts (id, created_at) VALUES (?, ?)", id, 100*id)
		show(ctx, "insert", "post %d", id)
		inserted <- err
		id++
	}
}

// openPosts opens a fresh in-memory database holding posts 1 to 9; posts 6
// and 7 share a timestamp.
func openPosts() (*sql.DB, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(1) // every connection to :memory: is a database of its own
	_, err = db.Exec(`CREATE TABLE posts (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL);
		INSERT INTO posts VALUES (1, 100), (2, 200), (3, 300), (4, 400), (5, 500),
			(6, 700), (7, 700), (8, 800), (9, 900);`)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create posts: %w", err)
	}
	return db, nil
}

// queryPosts runs a query for posts and reads every row it returns.
func queryPosts(db *sql.DB, query string, args ...any) ([]post, error) {
	rows, err := db.Query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("query posts: %w", err)
	}
	defer rows.Close()
	var page []post
	for rows.Next() {
		var p post
		if err := rows.Scan(&p.id, &p.createdAt); err != nil {
			return nil, fmt.Errorf("read posts: %w", err)
		}
		page = append(page, p)
	}
	return page, rows.Err()
}
