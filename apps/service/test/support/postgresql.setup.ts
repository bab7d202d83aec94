// jest setupFiles of the "postgresql" project: runs before each test file loads, so
// test-database.ts gives every file its own PostgreSQL schema instead of a SQLite file.
process.env.TEST_DATABASE = "postgresql";
