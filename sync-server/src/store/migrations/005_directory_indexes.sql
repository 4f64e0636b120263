-- Version 5: indexes for the lookups every sync makes. The directory a device fetches lists each teacher's
-- classes (class_staff by account) and a teacher's reach joins classes to their students; without these,
-- each lookup scanned the table, and a 1,000-device morning spent 44 % of the relay's CPU there.
CREATE INDEX class_staff_by_account ON class_staff (account_id);
CREATE INDEX students_by_class ON students (class_id);
CREATE INDEX accounts_by_role ON accounts (role);
