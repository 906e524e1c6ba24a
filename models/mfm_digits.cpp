// models/mfm_digits.cpp: see mfm_digits.h.
#include "models/mfm_digits.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::models {

DigitModel parse_digit_model(const std::string& s) {
  if (s == "um_image") return DigitModel::UmImage;
  if (s == "um_speech") return DigitModel::UmSpeech;
  if (s == "mm") return DigitModel::Mm;
  if (s == "mfm") return DigitModel::Mfm;
  FG_FAIL("digit model '{}' is unknown: expected one of um_image, um_speech, mm, mfm", s);
}

std::string digit_model_name(DigitModel m) {
  switch (m) {
    case DigitModel::UmImage: return "um_image";
    case DigitModel::UmSpeech: return "um_speech";
    case DigitModel::Mm: return "mm";
    case DigitModel::Mfm: return "mfm";
  }
  return "?";
}

std::string digit_model_label(DigitModel m) {
  switch (m) {
    case DigitModel::UmImage: return "UM(image)";
    case DigitModel::UmSpeech: return "UM(speech)";
    case DigitModel::Mm: return "MM";
    case DigitModel::Mfm: return "MFM";
  }
  return "?";
}

std::vector<DigitModel> all_digit_models() {
  return {DigitModel::UmImage, DigitModel::UmSpeech, DigitModel::Mm, DigitModel::Mfm};
}

void MfmDigitsConfig::validate() const {
  FG_CHECK(image_side >= 4 && image_side % 4 == 0, "MFM digits: image_side must be a positive multiple of 4, got {}",
           image_side);
  auto positive = [](std::int64_t v, const char* field) {
    FG_CHECK(v > 0, "MFM digits: {} must be positive, got {}", field, v);
  };
  positive(speech_dim, "speech_dim");
  positive(num_classes, "num_classes");
  positive(channels, "channels");
  positive(hidden, "hidden");
  positive(zy_size, "zy_size");
  positive(za_image, "za_image");
  positive(za_speech, "za_speech");
  positive(fy_size, "fy_size");
  positive(fa_image, "fa_image");
  positive(fa_speech, "fa_speech");
  FG_CHECK(dropout >= 0 && dropout < 1, "MFM digits: dropout must be in [0, 1), got {}", dropout);
  FG_CHECK(lambda_mmd >= 0 && lambda_image >= 0 && lambda_speech >= 0,
           "MFM digits: lambda_mmd, lambda_image and lambda_speech must be >= 0, got {}, {}, {}", lambda_mmd,
           lambda_image, lambda_speech);
}

DigitImageEncoder::DigitImageEncoder(std::int64_t side_, std::int64_t c, std::int64_t out, Generator& gen,
                                     TensorOptions opts)
    : side(side_) {
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(1, c, 4, gen, 2, 1, true, opts));
  conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(c, 2 * c, 4, gen, 2, 1, true, opts));
  fc = register_module("fc", std::make_shared<nn::Linear>(2 * c * (side / 4) * (side / 4), out, gen, true, opts));
}

Tensor DigitImageEncoder::forward(const Tensor& image) const {
  FG_CHECK(image.dim() == 2 && image.size(1) == side * side, "MFM digits: the image must be [B, {}], got {}",
           side * side, shape_str(image.shape()));
  const Tensor x = reshape(image, {image.size(0), 1, side, side});
  const Tensor h = relu(conv2->forward(relu(conv1->forward(x))));
  return relu(fc->forward(flatten(h, 1)));
}

DigitImageDecoder::DigitImageDecoder(std::int64_t in, std::int64_t side_, std::int64_t c, Generator& gen,
                                     TensorOptions opts)
    : side(side_), channels(c) {
  fc = register_module("fc", std::make_shared<nn::Linear>(in, 2 * c * (side / 4) * (side / 4), gen, true, opts));
  deconv1 = register_module("deconv1", std::make_shared<nn::ConvTranspose2d>(2 * c, c, 4, gen, 2, 1, 0, true, opts));
  deconv2 = register_module("deconv2", std::make_shared<nn::ConvTranspose2d>(c, 1, 4, gen, 2, 1, 0, true, opts));
}

Tensor DigitImageDecoder::forward(const Tensor& f) const {
  const Tensor h = reshape(relu(fc->forward(f)), {f.size(0), 2 * channels, side / 4, side / 4});
  const Tensor x = deconv2->forward(relu(deconv1->forward(h)));  // [B, 1, side, side]
  return sigmoid(reshape(x, {f.size(0), side * side}));
}

namespace {

std::shared_ptr<nn::MLP> fcnn(std::vector<std::int64_t> sizes, bool activate_last, Generator& gen, TensorOptions opts) {
  nn::MLPOptions o;
  o.sizes = std::move(sizes);
  o.activate_last = activate_last;
  o.param_options = opts;
  return std::make_shared<nn::MLP>(o, gen);
}

}  // namespace

MfmDigits::MfmDigits(const MfmDigitsConfig& config, Generator& gen, TensorOptions opts,
                     std::shared_ptr<Generator> dg)
    : config_(config) {
  config_.validate();
  const MfmDigitsConfig& c = config_;
  const std::int64_t h = c.hidden;
  std::int64_t fused = 0;
  if (c.uses_image()) {
    y_image = register_module("y_image", std::make_shared<DigitImageEncoder>(c.image_side, c.channels, h, gen, opts));
    fused += h;
  }
  if (c.uses_speech()) {
    y_speech = register_module("y_speech", fcnn({c.speech_dim, h, h}, true, gen, opts));
    fused += h;
  }
  zy = register_module("zy", std::make_shared<nn::Linear>(fused, c.zy_size, gen, true, opts));
  if (c.generative()) {
    a_image = register_module("a_image", std::make_shared<DigitImageEncoder>(c.image_side, c.channels, h, gen, opts));
    a_speech = register_module("a_speech", fcnn({c.speech_dim, h, h}, true, gen, opts));
    za_image = register_module("za_image", std::make_shared<nn::Linear>(h, c.za_image, gen, true, opts));
    za_speech = register_module("za_speech", std::make_shared<nn::Linear>(h, c.za_speech, gen, true, opts));
  }
  g_y = register_module("g_y", mfm_factor_net(c.zy_size, c.fy_size, c.dropout, gen, opts, dg));
  if (c.generative()) {
    g_a_image = register_module("g_a_image", mfm_factor_net(c.za_image, c.fa_image, c.dropout, gen, opts, dg));
    g_a_speech = register_module("g_a_speech", mfm_factor_net(c.za_speech, c.fa_speech, c.dropout, gen, opts, dg));
  }
  d = register_module("d", mfm_head(c.fy_size, c.num_classes, c.dropout, gen, opts, dg));
  if (c.generative()) {
    dec_image = register_module(
        "dec_image", std::make_shared<DigitImageDecoder>(c.fy_size + c.fa_image, c.image_side, c.channels, gen, opts));
    dec_speech = register_module("dec_speech", fcnn({c.fy_size + c.fa_speech, h, c.speech_dim}, false, gen, opts));
  }
}

MfmDigitsOutput MfmDigits::forward(const Tensor& image, const Tensor& speech) const {
  const MfmDigitsConfig& c = config_;
  if (c.uses_image()) FG_CHECK(image.defined(), "MFM digits: model {} needs the image", digit_model_name(c.model));
  if (c.uses_speech()) {
    FG_CHECK(speech.defined(), "MFM digits: model {} needs the speech", digit_model_name(c.model));
    FG_CHECK(speech.dim() == 2 && speech.size(1) == c.speech_dim, "MFM digits: the speech must be [B, {}], got {}",
             c.speech_dim, shape_str(speech.shape()));
  }
  if (c.uses_image() && c.uses_speech())
    FG_CHECK(image.size(0) == speech.size(0), "MFM digits: {} images but {} utterances", image.size(0),
             speech.size(0));
  MfmDigitsOutput o;
  std::vector<Tensor> trunks;
  if (y_image) trunks.push_back(y_image->forward(image));
  if (y_speech) trunks.push_back(y_speech->forward(speech));
  const Tensor z_y = zy->forward(trunks.size() == 1 ? trunks[0] : concat(trunks, 1));
  o.factors.emplace_back("z_y", z_y);
  o.f_y = g_y->forward(z_y);
  o.logits = d->forward(o.f_y);
  if (c.generative()) {
    const Tensor z1 = za_image->forward(a_image->forward(image));
    const Tensor z2 = za_speech->forward(a_speech->forward(speech));
    o.factors.emplace_back("z_a_image", z1);
    o.factors.emplace_back("z_a_speech", z2);
    o.f_a = {g_a_image->forward(z1), g_a_speech->forward(z2)};
    o.image_hat = dec_image->forward(concat({o.f_y, o.f_a[0]}, 1));
    o.speech_hat = sigmoid(dec_speech->forward(concat({o.f_y, o.f_a[1]}, 1)));
  }
  return o;
}

std::pair<Tensor, Tensor> MfmDigits::generate(const Tensor& z_y, const Tensor& z1, const Tensor& z2) const {
  FG_CHECK(config_.generative(), "MFM digits: model {} has no generative network (only mfm has)",
           digit_model_name(config_.model));
  FG_CHECK(z_y.dim() == 2 && z_y.size(1) == config_.zy_size && z1.dim() == 2 && z1.size(1) == config_.za_image &&
               z2.dim() == 2 && z2.size(1) == config_.za_speech && z1.size(0) == z_y.size(0) &&
               z2.size(0) == z_y.size(0),
           "MFM digits: generate needs z_y [N, {}], z_a_image [N, {}], z_a_speech [N, {}]", config_.zy_size,
           config_.za_image, config_.za_speech);
  const Tensor f_y = g_y->forward(z_y);
  return {dec_image->forward(concat({f_y, g_a_image->forward(z1)}, 1)),
          sigmoid(dec_speech->forward(concat({f_y, g_a_speech->forward(z2)}, 1)))};
}

std::vector<Tensor> draw_digit_prior(const MfmDigitsConfig& config, const MfmDigitsOutput& out, Generator& gen) {
  if (!config.generative()) return {};
  return draw_mfm_prior(config.mmd_placement, out.factors, gen);
}

MfmDigitsLoss mfm_digits_objective(const MfmDigitsConfig& config, const Tensor& image, const Tensor& speech,
                                   const Tensor& labels, const MfmDigitsOutput& out, const std::vector<Tensor>& prior) {
  FG_CHECK(labels.dim() == 1 && labels.size(0) == out.logits.size(0) && labels.dtype() == DType::i64,
           "MFM digits: labels must be int64 [B] = [{}]", out.logits.size(0));
  MfmDigitsLoss L;
  const Tensor ce = cross_entropy(out.logits, labels.to(out.logits.device()));
  L.terms.emplace_back("ce", ce);
  L.total = ce;
  if (!config.generative()) return L;
  const Tensor ri = mse_loss(out.image_hat, image.to(out.image_hat.dtype()));
  const Tensor rs = mse_loss(out.speech_hat, speech.to(out.speech_hat.dtype()));
  const Tensor mmd = mfm_mmd(config.mmd_placement, out.factors, prior);
  L.terms.emplace_back("recon_image", ri);
  L.terms.emplace_back("recon_speech", rs);
  L.terms.emplace_back("mmd", mmd);
  L.total = ce + ri * config.lambda_image + rs * config.lambda_speech + mmd * config.lambda_mmd;
  return L;
}

}  // namespace fg::models
