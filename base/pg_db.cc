// PostgreSQL connection and statements over libpq: deferred writes sent in pipelines, binary results.
#include "base/pg_db.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <regex>

namespace titan::pg {
namespace {

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// `sql` with SQLite's ?N parameters written as PostgreSQL's $N (outside quoted text); `*params`: the
// highest N.
std::string Dollars(std::string_view sql, int* params) {
  std::string out;
  out.reserve(sql.size());
  bool quoted = false;
  *params = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'') quoted = !quoted;
    if (c != '?' || quoted || i + 1 >= sql.size() || !isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      out += c;
      continue;
    }
    int n = 0;
    out += '$';
    while (i + 1 < sql.size() && isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      n = n * 10 + (sql[i + 1] - '0');
      out += sql[++i];
    }
    *params = std::max(*params, n);
  }
  return out;
}

bool IsWrite(std::string_view sql) {
  const size_t start = sql.find_first_not_of(" \t\n");
  if (start == std::string_view::npos) return false;
  std::string word;
  for (size_t i = start; i < sql.size() && isalpha(static_cast<unsigned char>(sql[i])); ++i)
    word += static_cast<char>(toupper(static_cast<unsigned char>(sql[i])));
  return word == "INSERT" || word == "UPDATE" || word == "DELETE";
}

// A big-endian integer of 1, 2, 4 or 8 bytes (binary int2/int4/int8; bool is one byte).
int64_t BigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  if (n < 8 && n > 0 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
  return static_cast<int64_t>(v);
}

}  // namespace

bool IsUri(std::string_view target) {
  return target.starts_with("postgresql://") || target.starts_with("postgres://");
}

std::string Redacted(const std::string& uri) {
  static const std::regex userinfo(R"(^([a-z]+://[^/@:?]*:)[^@/?]*@)", std::regex::icase);
  static const std::regex option(R"((password=)[^&\s]*)", std::regex::icase);
  return std::regex_replace(std::regex_replace(uri, userinfo, "$1***@"), option, "$1***");
}

Db::~Db() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Result<std::unique_ptr<Db>> Db::Connect(const std::string& uri) {
  std::unique_ptr<Db> db(new Db());
  db->uri_ = Redacted(uri);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (options == nullptr) {
    const std::string why = error ? Trimmed(error) : "out of memory";
    PQfreemem(error);
    return Status::Invalid("'" + db->uri_ + "' is not a PostgreSQL URI libpq accepts (" + why +
                           "); write it as postgresql://[user@]host[,host2][:port]/database[?options]");
  }
  PQconninfoFree(options);
  db->conn_ = PQconnectdb(uri.c_str());
  if (PQstatus(db->conn_) != CONNECTION_OK) {
    return Status::Error("cannot connect to PostgreSQL at " + db->uri_ + ": " +
                         Trimmed(PQerrorMessage(db->conn_)) +
                         "; check that the server runs and accepts connections there, and the user, database "
                         "and password (~/.pgpass or PGPASSWORD)");
  }
  PQsetNoticeProcessor(
      db->conn_, [](void*, const char*) {}, nullptr);  // CREATE ... IF NOT EXISTS notices
  if (Status s = db->Exec("SET client_min_messages = warning"); !s.ok()) return s;
  return db;
}

Status Db::Failure(const std::string& what, const PGresult* result) const {
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = primary ? Trimmed(primary) : Trimmed(PQerrorMessage(conn_));
  if (state) message += std::string(" [SQLSTATE ") + state + "]";
  if (PQstatus(conn_) != CONNECTION_OK) message += " (the connection to the server is lost)";
  Status s = Status::Error("PostgreSQL " + uri_ + ": " + message + " (in: " + what.substr(0, 60) + ")");
  if (state && std::strcmp(state, "53100") == 0) return std::move(s).WithOsError(ENOSPC);  // disk_full
  return s;
}

Status Db::Exec(std::string_view sql) {
  Drain();
  if (!deferred_.empty()) {
    if (Status s = Run(nullptr); !s.ok()) return s;
  }
  const std::string text(sql);
  PGresult* r = PQexec(conn_, text.c_str());
  const ExecStatusType st = PQresultStatus(r);
  Status s = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? Status::Ok() : Failure(text, r);
  PQclear(r);
  return s;
}

Status Db::Prepare(std::string_view sql, std::unique_ptr<sql::Statement>* stmt) {
  int params = 0;
  std::string text = Dollars(sql, &params);
  stmt->reset(new Statement(this, std::move(text), params, IsWrite(sql)));
  return Status::Ok();  // prepared on the server with its first use, in that use's round trip
}

Status Db::Begin() {
  in_txn_ = true;
  // BEGIN travels with the transaction's first statements; a pipelined transaction waiting for a free
  // slot (batch_) goes on with this one, begun on the server or not.
  if (batch_.empty()) {
    begun_ = false;
    txn_error_ = Status::Ok();
  }
  turn_start_ = deferred_.size();
  turn_sent_ = false;
  return Status::Ok();
}

Status Db::Commit() {
  if (!in_txn_) return Status::Ok();
  if (pipelining()) return CommitPipelined();
  if (!begun_ && deferred_.empty()) {  // nothing was written: nothing to send
    in_txn_ = false;
    return Status::Ok();
  }
  Op commit{.sql = "COMMIT"};
  Status s = Run(&commit);
  const char* tag = commit_result_ ? PQcmdStatus(commit_result_) : nullptr;
  if (s.ok() && (tag == nullptr || std::strcmp(tag, "COMMIT") != 0))  // a failed transaction ends ROLLBACK
    s = Status::Error("PostgreSQL " + uri_ + ": the transaction had failed and was rolled back");
  PQclear(commit_result_);
  commit_result_ = nullptr;
  if (!s.ok()) Rollback();
  in_txn_ = begun_ = false;
  return s;
}

void Db::Rollback() {
  if (in_txn_ && !batch_.empty() && !turn_sent_ && failure_.ok()) {
    // Only this transaction's writes are dropped: the earlier Commits' go on waiting for their slot.
    deferred_.resize(turn_start_);
    in_txn_ = false;
    return;
  }
  if (!batch_.empty()) {  // earlier Commits' writes were sent with this transaction's: lost with it
    if (failure_.ok())
      failure_ = Status::Error("PostgreSQL " + uri_ +
                               ": a transaction was rolled back while it carried earlier commits' writes");
    FailTickets(std::exchange(batch_, {}), failure_, 0);
  }
  deferred_.clear();
  Drain();
  if (begun_) PQclear(PQexec(conn_, "ROLLBACK"));
  in_txn_ = begun_ = false;
  if (forget_prepared_ && PQstatus(conn_) == CONNECTION_OK) {
    PQclear(PQexec(conn_, "DEALLOCATE ALL"));
    prepared_.clear();
    forget_prepared_ = false;
  }
}

Status Db::ProbeWrite(int64_t bytes) {
  return Exec(
      "CREATE TABLE IF NOT EXISTS titan_space_probe(id integer PRIMARY KEY, filler bytea NOT NULL);"
      "INSERT INTO titan_space_probe VALUES(1, decode(repeat('00', " +
      std::to_string(bytes) + "), 'hex')) ON CONFLICT(id) DO UPDATE SET filler = excluded.filler");
}

void Db::SetPrologue(std::string sql, int64_t arg) {
  int params = 0;
  prologue_sql_ = Dollars(sql, &params);
  prologue_arg_ = arg;
}

int64_t Db::Changes() {
  // On failure the transaction is left failed on the server, so its COMMIT fails too.
  if (!deferred_.empty() && !Run(nullptr).ok()) return -1;
  return changes_;
}

const std::string& Db::NameOf(const std::string& sql) {
  auto [it, added] = names_.try_emplace(sql);
  if (added) it->second = "titan_" + std::to_string(names_.size());
  return it->second;
}

void Db::Defer(Statement& stmt) {
  deferred_.push_back(Op{.sql = stmt.sql_,
                         .name = &NameOf(stmt.sql_),
                         .values = stmt.values_,
                         .null = stmt.null_,
                         .formats = stmt.formats_});
}

Status Db::Run(Op* last) {
  Drain();
  if (forget_prepared_ && !begun_) {
    PQclear(PQexec(conn_, "DEALLOCATE ALL"));
    prepared_.clear();
    forget_prepared_ = false;
  }
  Op begin{.sql = "BEGIN"};
  Op prologue;
  std::vector<Op*> ops;
  if (in_txn_ && !begun_) {
    ops.push_back(&begin);
    if (!prologue_sql_.empty()) {
      prologue = Op{.sql = prologue_sql_,
                    .name = nullptr,
                    .values = {std::to_string(prologue_arg_)},
                    .null = {0},
                    .formats = {0}};
      prologue.name = &NameOf(prologue.sql);
      ops.push_back(&prologue);
    }
  }
  for (Op& op : deferred_) ops.push_back(&op);
  if (last != nullptr) ops.push_back(last);
  if (in_txn_) begun_ = turn_sent_ = true;
  Status s = Status::Ok();
  for (size_t i = 0; i < ops.size() && s.ok(); i += kPipelineChunk) {
    std::vector<Op*> chunk(ops.begin() + i, ops.begin() + std::min(ops.size(), i + kPipelineChunk));
    s = RunChunk(chunk);
  }
  deferred_.clear();
  if (!s.ok()) forget_prepared_ = true;
  if (!s.ok() && in_txn_ && txn_error_.ok()) txn_error_ = s;  // the transaction's COMMIT fails for this
  return s;
}

bool Db::SendOp(const Op& op, bool* parsed) {
  *parsed = false;
  if (op.name == nullptr)
    return PQsendQueryParams(conn_, op.sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1) == 1;
  bool& prepared = prepared_[op.sql];
  if (!prepared) {
    *parsed = true;
    if (PQsendPrepare(conn_, op.name->c_str(), op.sql.c_str(), 0, nullptr) != 1) return false;
    prepared = true;
  }
  const size_t n = op.values.size();
  std::vector<const char*> values(n, nullptr);
  std::vector<int> lengths(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (op.null[i]) continue;
    values[i] = op.values[i].data();
    lengths[i] = static_cast<int>(op.values[i].size());
  }
  return PQsendQueryPrepared(conn_, op.name->c_str(), static_cast<int>(n), values.data(), lengths.data(),
                             op.formats.data(), 1) == 1;
}

Status Db::RunChunk(std::vector<Op*>& ops) {
  if (PQenterPipelineMode(conn_) != 1) return Failure("(pipeline)", nullptr);
  struct Expect {
    Op* op;
    bool prepare;
  };
  std::vector<Expect> expect;
  bool sent = true;
  for (Op* op : ops) {
    bool parsed = false;
    sent = SendOp(*op, &parsed);
    if (parsed) expect.push_back({op, true});
    expect.push_back({op, false});
    if (!sent) break;
  }
  Status first = Status::Ok();
  if (!sent || PQpipelineSync(conn_) != 1) {
    first = Failure(expect.empty() ? "(pipeline)" : expect.back().op->sql, nullptr);
    PQexitPipelineMode(conn_);
    return first;
  }
  for (const Expect& e : expect) {
    while (PGresult* r = PQgetResult(conn_)) {
      const ExecStatusType st = PQresultStatus(r);
      const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
      if (!ok && first.ok()) first = Failure(e.op->sql, r);  // the first; those after it were skipped
      if (ok && !e.prepare) {
        if (const char* n = PQcmdTuples(r); n && *n) changes_ = std::atoll(n);
        if (e.op->read != nullptr) {
          PQclear(e.op->read->result_);
          e.op->read->result_ = r;
          continue;
        }
        if (e.op->sql == "COMMIT") {
          commit_result_ = r;
          continue;
        }
      }
      PQclear(r);
    }
  }
  PGresult* sync = PQgetResult(conn_);
  if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC && first.ok()) first = Failure("(pipeline sync)", sync);
  PQclear(sync);
  if (PQexitPipelineMode(conn_) != 1 && first.ok()) first = Failure("(pipeline end)", nullptr);
  return first;
}

Statement::Statement(Db* db, std::string sql, int params, bool write)
    : db_(db), sql_(std::move(sql)), write_(write), values_(params), null_(params, 1), formats_(params, 0) {}

Statement::~Statement() { PQclear(result_); }

Statement& Statement::Bind(int i, std::string_view blob) {
  if (i < 1 || i > static_cast<int>(values_.size())) return *this;
  values_[i - 1].assign(blob.data(), blob.size());
  null_[i - 1] = 0;
  formats_[i - 1] = 1;
  return *this;
}

Statement& Statement::Bind(int i, int64_t v) {
  if (i < 1 || i > static_cast<int>(values_.size())) return *this;
  values_[i - 1] = std::to_string(v);
  null_[i - 1] = 0;
  formats_[i - 1] = 0;
  return *this;
}

bool Statement::Step() {
  if (result_ != nullptr) return ++row_ < PQntuples(result_);
  if (!status_.ok()) return false;
  if (write_ && db_->in_txn_) {
    db_->Defer(*this);
    return false;
  }
  Db::Op op{.sql = sql_,
            .name = &db_->NameOf(sql_),
            .values = values_,
            .null = null_,
            .formats = formats_,
            .read = this};
  status_ = db_->Run(&op);
  if (!status_.ok() || result_ == nullptr) return false;
  row_ = 0;
  return PQntuples(result_) > 0;
}

void Statement::Reset() {
  PQclear(result_);
  result_ = nullptr;
  row_ = -1;
  std::fill(null_.begin(), null_.end(), 1);
  status_ = Status::Ok();
}

std::string_view Statement::ColumnBlob(int i) {
  if (result_ == nullptr || row_ < 0 || i >= PQnfields(result_) || PQgetisnull(result_, row_, i)) return {};
  return {PQgetvalue(result_, row_, i), static_cast<size_t>(PQgetlength(result_, row_, i))};
}

int64_t Statement::ColumnInt(int i) {
  const std::string_view v = ColumnBlob(i);
  return BigEndian(v.data(), static_cast<int>(std::min<size_t>(v.size(), 8)));
}

}  // namespace titan::pg
