package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bulwark-platform/bulwark/services/internal/platform/db"
)

// User is a user's profile.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// errConflict is a duplicate email.
var errConflict = errors.New("a user with this email exists")

// store is the user service's own database: no other service reads it.
type store struct{ db *db.DB }

const columns = "id::text, email, name, created_at, updated_at"

func scan(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, db.ErrNotFound
	}
	return u, err
}

func conflict(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return errConflict
	}
	return err
}

func (s store) create(ctx context.Context, email, name string) (User, error) {
	u, err := scan(s.db.Pool().QueryRow(ctx, "INSERT INTO users (email, name) VALUES ($1, $2) RETURNING "+columns, email, name))
	return u, conflict(err)
}

func (s store) get(ctx context.Context, id string) (User, error) {
	return scan(s.db.Pool().QueryRow(ctx, "SELECT "+columns+" FROM users WHERE id = $1", id))
}

func (s store) list(ctx context.Context, limit int) ([]User, error) {
	rows, err := s.db.Pool().Query(ctx, "SELECT "+columns+" FROM users ORDER BY created_at, id LIMIT $1", limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return out, nil
}

func (s store) update(ctx context.Context, id, email, name string) (User, error) {
	u, err := scan(s.db.Pool().QueryRow(ctx,
		"UPDATE users SET email = $2, name = $3, updated_at = now() WHERE id = $1 RETURNING "+columns, id, email, name))
	return u, conflict(err)
}

func (s store) delete(ctx context.Context, id string) error {
	tag, err := s.db.Pool().Exec(ctx, "DELETE FROM users WHERE id = $1", id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return db.ErrNotFound
	}
	return nil
}
