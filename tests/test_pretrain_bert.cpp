// tests/test_pretrain_bert.cpp: BERT pretraining (examples/harness/bert_pretrain.h, issue 12 item 3):
//   - MLM masking statistics over a large sample: 15% of the maskable positions, of them
//     80% [MASK] / 10% random / 10% kept (binomial 5-sigma bounds), specials and padding never
//     selected, random tokens never special, targets the original ids, one seed one mask;
//   - a tiny pretraining run on a made-up corpus (a few seconds): the step loss falls and the
//     held-out loss falls; the folder it writes is a Hugging Face BertForMaskedLM folder that
//     models::load_bert reads and that a pure-PyTorch BERT (tests/reference/read_pretrained_bert.py)
//     reads back to the same hidden states and MLM logits (float64, relative error <= 1e-9);
//   - resume is bitwise identical (an interrupted run resumed == the run never stopped);
//   - bad or missing inputs give clear errors naming the file.
// Nothing here needs the data cache: the corpus and the vocabulary are written by the test.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/ops.h"
#include "engine/serialize/safetensors.h"
#include "examples/harness/bert_pretrain.h"
#include "examples/harness/trainer.h"
#include "support/data_fixtures.h"
#include "support/test_util.h"

#ifndef FG_PYTHON
#define FG_PYTHON "python3"
#endif

using namespace fg;
namespace fs = std::filesystem;
namespace h = fg::harness;

namespace {

const std::vector<std::string> kWords = {"the", "cat", "dog", "sat", "ran", "on", "under", "mat", "rug", "a",
                                         "big", "small", "red", "film", "was", "good", "bad", "very", "plot", "."};

// [PAD] [UNK] [CLS] [SEP] [MASK] [unused0] then the words and two continuation pieces
std::vector<std::string> tiny_vocab() {
  std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]"};
  for (const auto& w : kWords) v.push_back(w);
  v.push_back("##s");
  v.push_back("##ly");
  return v;
}

// Patterned text an MLM can learn: "the <adj> <noun> sat on the <noun> ." repeated with variations.
std::string tiny_document(std::uint64_t seed, int sentences) {
  Generator g(seed);
  const std::vector<std::string> adj = {"big", "small", "red"}, noun = {"cat", "dog"}, place = {"mat", "rug"},
                                 verb = {"sat", "ran"}, prep = {"on", "under"};
  std::string s;
  for (int i = 0; i < sentences; ++i) {
    const std::string a = adj[g.next_below(3)], n = noun[g.next_below(2)];
    s += fmt::format("the {} {} {} {} the {} . the film was very {} . ", a, n, verb[g.next_below(2)],
                     prep[g.next_below(2)], place[g.next_below(2)], g.next_below(2) ? "good" : "bad");
  }
  return s;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

// A reviews csv of `docs` documents and a vocab.txt in `dir`.
void write_tiny_sources(const testing::ScratchDir& dir, int docs) {
  std::string csv = "\xEF\xBB\xBF";  // a BOM, as python3-pattern's file has
  for (int d = 0; d < docs; ++d)
    csv += fmt::format("\"{}\",\"{}\n{}\"\n", d % 2 ? 1 : -1, tiny_document(static_cast<std::uint64_t>(d), 3),
                       tiny_document(static_cast<std::uint64_t>(d + 1000), 2));
  write_file(dir.file("reviews.csv"), csv);
  std::string v;
  for (const auto& t : tiny_vocab()) v += t + "\n";
  write_file(dir.file("vocab.txt"), v);
}

h::PretrainOptions tiny_options(const testing::ScratchDir& dir) {
  h::PretrainOptions o;
  o.reviews_csv = dir.file("reviews.csv");
  o.vocab_txt = dir.file("vocab.txt");
  o.out_dir = dir.file("model");
  o.hidden = 16;
  o.layers = 2;
  o.heads = 2;
  o.intermediate = 32;
  o.max_len = 24;
  o.valid_documents = 4;
  o.test_documents = 6;
  o.epochs = 6;
  o.batch_size = 8;
  o.warmup_steps = 5;
  o.lr = 5e-3;
  o.quiet = true;
  return o;
}

int run_command(const std::string& cmd, std::string& output) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  output.clear();
  while (std::fgets(buf, sizeof buf, p)) output += buf;
  const int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

double mean(const std::vector<double>& v, std::size_t lo, std::size_t hi) {
  double s = 0;
  for (std::size_t i = lo; i < hi; ++i) s += v[i];
  return s / static_cast<double>(hi - lo);
}

}  // namespace

TEST_CASE("pretrain_bert: MLM masking statistics (15%, 80/10/10, specials never masked)") {
  // 400,000 positions: ids cycle over 0..29 (0-4 are specials), 10% of the positions padding
  const std::int64_t n = 400000, V = 30, mask_id = 4;
  std::vector<std::int64_t> ids(n);
  std::vector<char> maskable(n);
  std::vector<std::int64_t> pool;
  for (std::int64_t i = 5; i < V; ++i) pool.push_back(i);
  std::int64_t eligible = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    ids[i] = (i * 7) % V;
    maskable[i] = ids[i] >= 5 && (i % 10 != 9);
    eligible += maskable[i];
  }
  Generator gen(42);
  const h::MlmMasked m = h::mlm_mask(ids, maskable, mask_id, pool, gen);
  const auto sel = static_cast<double>(m.positions.size());
  auto within = [](double count, double total, double p) {  // binomial, 5 standard deviations
    const double sd = std::sqrt(total * p * (1 - p));
    INFO(count << " of " << total << " where " << p * total << " expected (sd " << sd << ")");
    CHECK(std::abs(count - p * total) <= 5 * sd);
  };
  within(sel, static_cast<double>(eligible), 0.15);
  double k_mask = 0, k_rand = 0, k_keep = 0;
  std::int64_t prev = -1;
  for (std::size_t k = 0; k < m.positions.size(); ++k) {
    const std::int64_t p = m.positions[k];
    REQUIRE(maskable[p]);                      // specials and padding never selected
    CHECK(p > prev);                           // increasing
    prev = p;
    CHECK(m.targets[k] == ids[p]);             // the target is the original token
    if (m.kind[k] == 0) {
      ++k_mask;
      CHECK(m.input_ids[p] == mask_id);
    } else if (m.kind[k] == 1) {
      ++k_rand;
      CHECK(m.input_ids[p] >= 5);              // a random token is never a special one
    } else {
      ++k_keep;
      CHECK(m.input_ids[p] == ids[p]);
    }
  }
  within(k_mask, sel, 0.8);
  within(k_rand, sel, 0.1);
  within(k_keep, sel, 0.1);
  // every unselected position is unchanged
  std::set<std::int64_t> s(m.positions.begin(), m.positions.end());
  std::int64_t changed = 0;
  for (std::int64_t i = 0; i < n; ++i) changed += !s.count(i) && m.input_ids[i] != ids[i];
  CHECK(changed == 0);
  // one seed, one mask; another seed, another
  Generator again(42), other(43);
  CHECK(h::mlm_mask(ids, maskable, mask_id, pool, again).positions == m.positions);
  CHECK(h::mlm_mask(ids, maskable, mask_id, pool, other).positions != m.positions);
  // a row of specials only selects nothing; a short row still gets one position
  Generator g2(0);
  CHECK(h::mlm_mask({2, 3, 0}, {0, 0, 0}, mask_id, pool, g2).positions.empty());
  CHECK(h::mlm_mask({2, 7, 3}, {0, 1, 0}, mask_id, pool, g2).positions == std::vector<std::int64_t>{1});
}

TEST_CASE("pretrain_bert: a tiny run learns, and its folder loads in models::load_bert and in a pure-PyTorch BERT") {
  testing::ScratchDir dir("pretrain-bert");
  write_tiny_sources(dir, 40);
  std::ostringstream log;
  const h::PretrainResult r = h::pretrain_bert(tiny_options(dir), log);
  INFO(log.str());
  REQUIRE(r.steps >= 20);
  const std::size_t q = r.step_losses.size() / 4;
  CHECK(mean(r.step_losses, r.step_losses.size() - q, r.step_losses.size()) < 0.8 * mean(r.step_losses, 0, q));
  CHECK(r.test_after.loss < r.test_before.loss - 0.5);
  CHECK(r.test_after.perplexity == doctest::Approx(std::exp(r.test_after.loss)));
  CHECK(r.tokens_seen > 0);

  // the folder: Hugging Face names, no pooler, the tied decoder not stored
  const std::string out = dir.file("model");
  for (const char* f : {"config.json", "vocab.txt", "model.safetensors", "pretraining.json"})
    CHECK(fs::exists(fs::path(out) / f));
  const auto st = load_safetensors((fs::path(out) / "model.safetensors").string()).tensors;
  CHECK(st.count("bert.embeddings.word_embeddings.weight"));
  CHECK(st.count("cls.predictions.transform.dense.weight"));
  CHECK(st.count("cls.predictions.transform.LayerNorm.bias"));
  CHECK(st.count("cls.predictions.bias"));
  CHECK_FALSE(st.count("cls.predictions.decoder.weight"));
  CHECK_FALSE(st.count("bert.pooler.dense.weight"));
  auto enc = models::load_bert(out, f64_opts());
  CHECK(enc->pooler == nullptr);
  enc->eval();

  // our hidden states (float64, from the saved float32 weights) and MLM logits ...
  const models::BertConfig cfg = models::BertConfig::from_file((fs::path(out) / "config.json").string());
  Generator g(0);
  h::BertForMaskedLM mlm(cfg, g, f64_opts());
  std::map<std::string, Tensor> w;
  for (const auto& [k, v] : st) w[k] = v.to(DType::f64);
  mlm.load_state_dict(w);  // strict: exactly these names
  mlm.eval();
  const auto tok = data::WordPieceTokenizer::from_file((fs::path(out) / "vocab.txt").string());
  const auto batch = data::WordPieceTokenizer::batch(
      {tok.encode("the big cat sat on the mat .", 12), tok.encode("the film was very bad", 12)});
  const Tensor hidden = mlm.bert->forward(batch.input_ids, batch.attention_mask).last_hidden_state;
  CHECK(test::max_abs_diff(hidden, enc->forward(batch.input_ids, batch.attention_mask).last_hidden_state) == 0.0);
  const Tensor positions = from_vector(std::vector<std::int64_t>{1, 3, 14, 16}, {4}, TensorOptions{DType::i64});
  const Tensor logits = mlm.logits_at(hidden, positions);
  save_safetensors(dir.file("io.safetensors"), {{"ids", batch.input_ids}, {"mask", batch.attention_mask},
                                                {"positions", positions}, {"hidden", hidden}, {"logits", logits}});
  // ... and PyTorch's, from the folder alone
#if !FG_HAVE_TORCH
  FAIL("PyTorch is missing: " FG_PYTHON " could not import torch when this build was configured. Install "
       "python3-torch and python3-numpy (tools/setup.sh) and re-run cmake.");
#endif
  std::string output;
  const int rc = run_command(fmt::format("'{}' '{}/tests/reference/read_pretrained_bert.py' '{}' '{}'", FG_PYTHON,
                                         FG_SOURCE_DIR, out, dir.file("io.safetensors")),
                             output);
  INFO(output);
  CHECK(rc == 0);
  CHECK(test::contains(output, "hidden relative error"));

  // ensure_pretrained_bert returns a built folder at once, without training
  fs::create_directories(dir.file("cache"));
  fs::rename(out, dir.file("cache/pretrained-bert"));
  std::ostringstream log2;
  CHECK(h::ensure_pretrained_bert(dir.file("cache"), dir.file("nowhere"), log2) == dir.file("cache/pretrained-bert"));
  CHECK(log2.str().empty());
}

TEST_CASE("pretrain_bert: an interrupted run resumed is bitwise the run never stopped") {
  testing::ScratchDir dir("pretrain-bert-resume");
  write_tiny_sources(dir, 24);
  auto o = tiny_options(dir);
  o.epochs = 2;
  o.max_len = 16;
  std::ostringstream log;
  const h::PretrainResult straight = h::pretrain_bert(o, log);

  // SIGINT after a few steps: the harness writes the checkpoint and throws Interrupted
  o.checkpoint = dir.file("ck.safetensors");
  o.out_dir = dir.file("model2");
  h::Observer obs;
  obs.on_step = [](std::int64_t, std::int64_t step, const h::StepOutput&) {
    if (step == 5) std::raise(SIGINT);  // mid first epoch: the step finishes, the checkpoint is written
  };
  bool interrupted = false;
  try {
    h::pretrain_bert(o, log, obs);
  } catch (const h::Interrupted& e) {
    interrupted = true;
    CHECK(test::contains(e.message(), "--resume"));
  }
  h::clear_stop_signal();
  REQUIRE(interrupted);
  REQUIRE(fs::exists(o.checkpoint));
  o.resume = true;
  const h::PretrainResult resumed = h::pretrain_bert(o, log);
  REQUIRE(resumed.step_losses.size() == straight.step_losses.size());
  bool same = true;
  for (std::size_t i = 0; i < straight.step_losses.size(); ++i)
    same = same && std::memcmp(&straight.step_losses[i], &resumed.step_losses[i], sizeof(double)) == 0;
  CHECK(same);
  CHECK(resumed.test_after.loss == straight.test_after.loss);
}

TEST_CASE("pretrain_bert: bad or missing inputs give clear errors") {
  testing::ScratchDir dir("pretrain-bert-bad");
  write_tiny_sources(dir, 20);
  std::ostringstream log;
  auto o = tiny_options(dir);
  o.vocab_txt = dir.file("missing-vocab.txt");
  CHECK(test::contains(test::error_of([&] { h::pretrain_bert(o, log); }),
                          "missing-vocab.txt: vocabulary not found"));
  o = tiny_options(dir);
  o.reviews_csv = dir.file("missing.csv");
  CHECK(test::contains(test::error_of([&] { h::pretrain_bert(o, log); }), "missing.csv: reviews not found"));
  CHECK(test::contains(test::error_of([&] { h::read_reviews_csv(dir.file("missing.csv")); }),
                          "missing.csv: cannot open"));
  write_file(dir.file("open.csv"), "\"1\",\"fine\"\n\"-1\",\"never closed\n");
  CHECK(test::contains(test::error_of([&] { h::read_reviews_csv(dir.file("open.csv")); }),
                          "open.csv: line 2: a quoted field is not closed"));
  write_file(dir.file("label.csv"), "\"1\",\"fine\"\n\"pos\",\"text\"\n");
  CHECK(test::contains(test::error_of([&] { h::read_reviews_csv(dir.file("label.csv")); }),
                          "label.csv: line 2: the label 'pos' is not an integer"));
  write_file(dir.file("three.csv"), "\"1\",\"a\",\"b\"\n");
  CHECK(test::contains(test::error_of([&] { h::read_reviews_csv(dir.file("three.csv")); }),
                          "three.csv: line 1: more than two fields"));
  write_file(dir.file("empty.csv"), "");
  CHECK(test::contains(test::error_of([&] { h::read_reviews_csv(dir.file("empty.csv")); }), "empty.csv: no rows"));
  o = tiny_options(dir);
  o.valid_documents = 10;
  o.test_documents = 10;
  CHECK(test::contains(test::error_of([&] { h::pretrain_bert(o, log); }),
                          "20 documents cannot give 10 valid + 10 test documents"));
  // a vocabulary without [MASK]
  write_file(dir.file("nomask.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n");
  o = tiny_options(dir);
  o.vocab_txt = dir.file("nomask.txt");
  CHECK(test::contains(test::error_of([&] { h::pretrain_bert(o, log); }), "no [MASK] token"));
}
