/* SPDX-License-Identifier: ISC */
/*
 * pgJDBC through pgweir in transaction mode: a PreparedStatement run 20
 * times in autocommit and 20 times in explicit transactions, with
 * prepareThreshold 5 (the default: server-side named statements from the
 * fifth run on) and 1 (named from the first), while churn threads, each
 * on its own connection and each with its own statement texts under the
 * same JDBC names (S_1, S_2, ...), keep the pool's backends changing
 * hands.  Then a 1000-row addBatch/executeBatch in one transaction, and
 * a batch that fails half way on a duplicate key and is rolled back.
 *
 * Usage: java -cp postgresql.jar:DIR PreparedChurn HOST PORT USER DB
 * Prints "PreparedChurn: OK" and exits 0, or says what failed and exits 1.
 */
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

public final class PreparedChurn {
	private static final int CHURNERS = 8;
	private static final int RUNS = 20;
	/* rows per batch; -DbatchRows=N to bisect a failure */
	private static final int BATCH_ROWS = Integer.getInteger("batchRows",
	    1000);

	private static String host, port, user, db;

	private static final AtomicBoolean stop = new AtomicBoolean();
	private static final AtomicLong churnTx = new AtomicLong();
	private static final AtomicReference<Throwable> churnError =
	    new AtomicReference<>();

	/** The connection URL with one prepareThreshold. */
	private static String url(int threshold, String app) {
		return "jdbc:postgresql://" + host + ":" + port + "/" + db +
		    "?user=" + user + "&sslmode=disable&prepareThreshold=" +
		    threshold + "&ApplicationName=" + app +
		    "&connectTimeout=10&socketTimeout=20";
	}

	private static void check(boolean ok, String what) {
		if (!ok)
			throw new AssertionError(what);
	}

	/**
	 * One churn client: short transactions of its own statements, some
	 * of them holding the backend a moment, until told to stop.
	 */
	private static void churn(int k) {
		int threshold = k % 2 == 0 ? 1 : 5;
		try (Connection c = DriverManager.getConnection(url(threshold,
		    "churn" + k))) {
			c.setAutoCommit(false);
			PreparedStatement add = c.prepareStatement(
			    "select ?::int + " + (1000 * (k + 1)));
			PreparedStatement txt = c.prepareStatement(
			    "select 'churn" + k + "-' || ?::text");
			PreparedStatement nap = c.prepareStatement(
			    "select pg_sleep(?::float8 / 1000)");
			for (int i = 0; !stop.get(); i++) {
				add.setInt(1, i);
				try (ResultSet rs = add.executeQuery()) {
					check(rs.next() && rs.getInt(1) ==
					    i + 1000 * (k + 1), "churn" + k +
					    ": wrong sum at run " + i);
				}
				txt.setString(1, Integer.toString(i));
				try (ResultSet rs = txt.executeQuery()) {
					check(rs.next() && rs.getString(1)
					    .equals("churn" + k + "-" + i),
					    "churn" + k + ": wrong text at " +
					    "run " + i);
				}
				if (i % 3 == 0) {
					nap.setInt(1, 2);
					nap.executeQuery().close();
				}
				c.commit();
				churnTx.incrementAndGet();
			}
		} catch (Throwable t) {
			churnError.compareAndSet(null, new AssertionError(
			    "churn thread " + k + " (prepareThreshold=" +
			    threshold + "): " + t, t));
			stop.set(true);
		}
	}

	/** Run the checked statement once; returns the backend's pid. */
	private static int runOnce(PreparedStatement ps, int i, String phase)
	    throws SQLException {
		ps.setInt(1, i);
		try (ResultSet rs = ps.executeQuery()) {
			check(rs.next(), phase + " run " + i + ": no row");
			int got = rs.getInt(1), pid = rs.getInt(2);
			check(got == i * 7 + 3, phase + " run " + i +
			    ": expected " + (i * 7 + 3) + ", got " + got);
			check(!rs.next(), phase + " run " + i + ": extra row");
			return pid;
		}
	}

	/**
	 * One prepareThreshold: 20 autocommit runs, 20 runs in explicit
	 * transactions (a new PreparedStatement each time: pgJDBC's
	 * statement cache gives back the same server-side name), a failed
	 * transaction rolled back, and the statement still right afterwards.
	 */
	private static Set<Integer> suite(int threshold) throws Exception {
		String sql = "select ?::int * 7 + 3, pg_backend_pid()";
		String phase = "prepareThreshold=" + threshold;
		Set<Integer> pids = new HashSet<>();

		try (Connection c = DriverManager.getConnection(url(threshold,
		    "main"))) {
			PreparedStatement ps = c.prepareStatement(sql);
			for (int i = 0; i < RUNS; i++) {
				pids.add(runOnce(ps, i, phase + " autocommit"));
				Thread.sleep(3);
			}
			check(ps.unwrap(org.postgresql.PGStatement.class)
			    .isUseServerPrepare(), phase + ": the statement "
			    + "never became server-prepared");

			c.setAutoCommit(false);
			PreparedStatement other = c.prepareStatement(
			    "select length(?::text)");
			for (int i = 0; i < RUNS; i++) {
				PreparedStatement again =
				    c.prepareStatement(sql);
				pids.add(runOnce(again, 100 + i, phase +
				    " explicit"));
				other.setString(1, "x".repeat(i));
				try (ResultSet rs = other.executeQuery()) {
					check(rs.next() && rs.getInt(1) == i,
					    phase + " explicit run " + i +
					    ": wrong length");
				}
				pids.add(runOnce(again, 200 + i, phase +
				    " explicit (second in transaction)"));
				again.close();
				c.commit();
				Thread.sleep(3);
			}

			/* an error inside a transaction, then ROLLBACK */
			PreparedStatement div = c.prepareStatement(
			    "select 10 / ?::int");
			for (int i = 0; i < 6; i++) {
				div.setInt(1, 1);
				div.executeQuery().close();
				c.commit();
			}
			div.setInt(1, 0);
			try {
				div.executeQuery().close();
				throw new AssertionError(phase +
				    ": division by zero did not fail");
			} catch (SQLException e) {
				check("22012".equals(e.getSQLState()), phase +
				    ": expected SQLSTATE 22012, got " +
				    e.getSQLState() + ": " + e.getMessage());
			}
			c.rollback();
			div.setInt(1, 5);
			try (ResultSet rs = div.executeQuery()) {
				check(rs.next() && rs.getInt(1) == 2, phase +
				    ": wrong result after rollback");
			}
			c.commit();
			pids.add(runOnce(ps, 999, phase + " after rollback"));
			c.commit();
		}
		return pids;
	}

	/** 1000 rows with addBatch/executeBatch in one transaction. */
	private static void batch(int threshold) throws Exception {
		String table = "jdbc_batch_" + threshold + "_" +
		    ProcessHandle.current().pid();
		String phase = "batch (prepareThreshold=" + threshold + ")";

		try (Connection c = DriverManager.getConnection(url(threshold,
		    "batch"))) {
			try (Statement s = c.createStatement()) {
				s.execute("drop table if exists " + table);
				s.execute("create table " + table +
				    " (id int primary key, v text not null)");
			}
			c.setAutoCommit(false);
			PreparedStatement ins = c.prepareStatement(
			    "insert into " + table + " (id, v) values (?, ?)");
			for (int i = 0; i < BATCH_ROWS; i++) {
				ins.setInt(1, i);
				ins.setString(2, "row-" + i);
				ins.addBatch();
			}
			int[] counts = ins.executeBatch();
			check(counts.length == BATCH_ROWS, phase + ": " +
			    counts.length + " update counts");
			for (int i = 0; i < counts.length; i++)
				check(counts[i] == 1 || counts[i] ==
				    Statement.SUCCESS_NO_INFO, phase +
				    ": update count " + counts[i] + " at " + i);
			c.commit();
			try (Statement s = c.createStatement();
			    ResultSet rs = s.executeQuery("select count(*), " +
			    "sum(id), count(*) filter " +
			    "(where v = 'row-' || id) from " + table)) {
				check(rs.next(), phase + ": no count");
				check(rs.getLong(1) == BATCH_ROWS, phase +
				    ": expected " + BATCH_ROWS + " rows, got " +
				    rs.getLong(1));
				check(rs.getLong(2) == (long)BATCH_ROWS *
				    (BATCH_ROWS - 1) / 2, phase +
				    ": wrong sum");
				check(rs.getLong(3) == BATCH_ROWS, phase +
				    ": rows with the wrong text");
			}
			c.commit();

			/* a batch that fails half way: nothing of it stays */
			for (int i = 0; i < BATCH_ROWS / 2; i++) {
				ins.setInt(1, i == BATCH_ROWS / 4 ? 0 :
				    BATCH_ROWS + i);
				ins.setString(2, "dup");
				ins.addBatch();
			}
			try {
				ins.executeBatch();
				throw new AssertionError(phase + ": a batch " +
				    "with a duplicate key did not fail");
			} catch (BatchUpdateException e) {
				SQLException cause = e.getNextException();
				String state = cause != null ?
				    cause.getSQLState() : e.getSQLState();
				check("23505".equals(state), phase +
				    ": expected SQLSTATE 23505, got " +
				    state + ": " + e);
			}
			c.rollback();
			try (Statement s = c.createStatement();
			    ResultSet rs = s.executeQuery("select count(*) " +
			    "from " + table)) {
				check(rs.next() && rs.getLong(1) == BATCH_ROWS,
				    phase + ": rows of the failed batch " +
				    "stayed");
			}
			c.commit();
			/* and the statement still works afterwards */
			ins.setInt(1, -1);
			ins.setString(2, "row--1");
			check(ins.executeUpdate() == 1, phase +
			    ": insert after the failed batch");
			c.commit();
			c.setAutoCommit(true);
			try (Statement s = c.createStatement()) {
				s.execute("drop table " + table);
			}
		}
	}

	public static void main(String[] args) {
		if (args.length != 4) {
			System.err.println("usage: PreparedChurn HOST PORT " +
			    "USER DB");
			System.exit(2);
		}
		host = args[0];
		port = args[1];
		user = args[2];
		db = args[3];

		List<Thread> threads = new ArrayList<>();
		String step = "start";
		try {
			for (int k = 0; k < CHURNERS; k++) {
				final int kk = k;
				Thread t = new Thread(() -> churn(kk));
				t.start();
				threads.add(t);
			}
			Set<Integer> pids = new HashSet<>();
			for (int threshold : new int[] { 5, 1 }) {
				step = "prepareThreshold=" + threshold;
				pids.addAll(suite(threshold));
			}
			for (int threshold : new int[] { 5, 1 }) {
				step = "batch with prepareThreshold=" +
				    threshold;
				batch(threshold);
			}
			check(pids.size() >= 2, "the checked statement always "
			    + "ran on the same backend: nothing moved");
			step = "stopping the churn threads";
			stop.set(true);
			for (Thread t : threads)
				t.join(30000);
			if (churnError.get() != null)
				throw churnError.get();
			check(churnTx.get() > 0, "the churn threads ran no "
			    + "transaction");
			System.out.println("PreparedChurn: OK (" + RUNS +
			    " runs x 2 modes x 2 thresholds on " + pids.size() +
			    " backends; " + churnTx.get() + " churn " +
			    "transactions; batches of " + BATCH_ROWS + ")");
			System.exit(0);
		} catch (Throwable t) {
			stop.set(true);
			Throwable first = churnError.get();
			System.out.println("PreparedChurn: FAIL during " +
			    step + ": " + t);
			t.printStackTrace(System.out);
			if (first != null && first != t) {
				System.out.println("and a churn thread " +
				    "failed: " + first);
				first.printStackTrace(System.out);
			}
			System.exit(1);
		}
	}
}
