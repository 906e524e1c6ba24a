// models/mfm_digits.h: MFM for two static modalities (paper 001 section 3.2, Figure 5a) on our
// digit pairs (data/digits.h: an MNIST image and a spoken digit of the same label, in place of
// SVHN-MNIST), and the baselines of Figure 5b. docs/mfm.md, "The digit experiment".
//
// Inputs: image [B, side * side] in [0, 1] (28 x 28 for MNIST), speech [B, speech_dim] (the
// 58 x 12 MFCC vector, 696, scaled to [0, 1] with the training split's range: the pair set's
// unit_range), labels int64 [B] in 0..9. The speech is read by fully connected networks as
// the flattened vector (ours; an MFCC "image" is only 12 coefficients high, and a CNN over it
// would not share much across the 58 frames' 12 rows).
//
//   image trunk  (CNN)   [B, 1, s, s] -> Conv(1 -> c, 4, stride 2, pad 1) ReLU
//                        -> Conv(c -> 2c, 4, stride 2, pad 1) ReLU -> flatten -> Linear(2c s^2/16 -> h) ReLU
//   speech trunk (FCNN)  [B, d] -> Linear(d -> h) ReLU -> Linear(h -> h) ReLU
//   Q(Z_y | X_1, X_2)    late fusion: Linear([image trunk, speech trunk] -> d(Z_y)), each trunk its own weights
//   Q(Z_a1 | X_1)        image trunk -> Linear(h -> d(Z_a1));   Q(Z_a2 | X_2)  speech trunk -> Linear(h -> d(Z_a2))
//   G_y, G_a1, G_a2      models::mfm_factor_net (the time-series model's G: ReLU(FC2(dropout(ReLU(FC1)))))
//   D                    models::mfm_head(d(F_y) -> 10 logits)
//   F_1 (image, CNN)     [F_y, F_a1] -> Linear(-> 2c s^2/16) ReLU -> reshape [2c, s/4, s/4]
//                        -> ConvT(2c -> c, 4, 2, 1) ReLU -> ConvT(c -> 1, 4, 2, 1) -> sigmoid -> [B, s^2]
//   F_2 (speech, FCNN)   [F_y, F_a2] -> Linear(-> h) ReLU -> Linear(h -> d) -> sigmoid
// Objective (eq. 4 with a classifier): CE(D(F_y), y) + lambda_image MSE(X_1, X^_1)
//   + lambda_speech MSE(X_2, X^_2) + lambda_mmd MMD (models::mfm_mmd: per factor, the code's
//   default, or joint).
//
// Models (one enum; the parts are built only where a model has them):
//   um_image   image trunk -> Z_y -> G_y -> D                      CE only      UM(MNIST) of Figure 5b
//   um_speech  speech trunk -> Z_y -> G_y -> D                     CE only      UM(SVHN)'s place
//   mm         both trunks, late fusion -> Z_y -> G_y -> D         CE only      MM, the discriminative baseline [37]
//   mfm        mm + Z_a1, Z_a2 + decoders                          eq. 4
// Parameter names: y_image.*, y_speech.* (Q_y's trunks), zy.*, a_image.*, a_speech.* (Q_a's
// trunks), za_image.*, za_speech.*, g_y.*, g_a_image.*, g_a_speech.*, d.*, dec_image.*,
// dec_speech.*.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/nn.h"
#include "models/mfm.h"

namespace fg::models {

enum class DigitModel { UmImage, UmSpeech, Mm, Mfm };
DigitModel parse_digit_model(const std::string& s);  // um_image | um_speech | mm | mfm; throws naming them
std::string digit_model_name(DigitModel m);
std::string digit_model_label(DigitModel m);         // "UM(image)", "UM(speech)", "MM", "MFM"
std::vector<DigitModel> all_digit_models();

struct MfmDigitsConfig {
  DigitModel model = DigitModel::Mfm;
  std::int64_t image_side = 28;   // divisible by 4
  std::int64_t speech_dim = 696;
  std::int64_t num_classes = 10;
  std::int64_t channels = 16;     // c: the CNNs have c and 2c channels
  std::int64_t hidden = 128;      // h: the trunks' width (and the speech decoder's)
  std::int64_t zy_size = 16, za_image = 16, za_speech = 16;
  std::int64_t fy_size = 16, fa_image = 16, fa_speech = 16;
  double dropout = 0.0;           // inside G_* and D
  double lambda_mmd = 1.0, lambda_image = 1.0, lambda_speech = 1.0;
  MmdPlacement mmd_placement = MmdPlacement::PerFactor;

  bool generative() const { return model == DigitModel::Mfm; }
  bool uses_image() const { return model != DigitModel::UmSpeech; }
  bool uses_speech() const { return model != DigitModel::UmImage; }
  // Throws naming the field.
  void validate() const;
};

// The image trunk (CNN) and the image decoder (transposed CNN) above.
class DigitImageEncoder : public nn::Module {
 public:
  DigitImageEncoder(std::int64_t side, std::int64_t channels, std::int64_t out, Generator& gen, TensorOptions opts);
  std::string type_name() const override { return "DigitImageEncoder"; }
  Tensor forward(const Tensor& image) const;  // [B, side^2] -> [B, out] (ReLU)
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::Linear> fc;
  std::int64_t side;
};

class DigitImageDecoder : public nn::Module {
 public:
  DigitImageDecoder(std::int64_t in, std::int64_t side, std::int64_t channels, Generator& gen, TensorOptions opts);
  std::string type_name() const override { return "DigitImageDecoder"; }
  Tensor forward(const Tensor& f) const;  // [B, in] -> [B, side^2] in (0, 1)
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::ConvTranspose2d> deconv1, deconv2;
  std::int64_t side, channels;
};

struct MfmDigitsOutput {
  std::vector<std::pair<std::string, Tensor>> factors;  // ("z_y", ..), and for mfm ("z_a_image", ..), ("z_a_speech", ..)
  Tensor f_y;                                           // [B, fy]
  std::vector<Tensor> f_a;                              // mfm: [F_a1, F_a2]
  Tensor logits;                                        // [B, classes]
  Tensor image_hat, speech_hat;                         // mfm: the reconstructions
};

struct MfmDigitsLoss {
  Tensor total;
  std::vector<std::pair<std::string, Tensor>> terms;  // ce, and for mfm recon_image, recon_speech, mmd (unweighted)
};

class MfmDigits : public nn::Module {
 public:
  MfmDigits(const MfmDigitsConfig& config, Generator& init_gen, TensorOptions opts = {},
            std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "MfmDigits"; }
  const MfmDigitsConfig& config() const { return config_; }
  // image [B, side^2], speech [B, speech_dim] (either may be undefined when the model does not read it).
  MfmDigitsOutput forward(const Tensor& image, const Tensor& speech) const;
  // The generative network (mfm only): z_y [N, zy], z_a1 [N, za_image], z_a2 [N, za_speech]
  // -> {image [N, side^2], speech [N, speech_dim]}.
  std::pair<Tensor, Tensor> generate(const Tensor& z_y, const Tensor& z_a_image, const Tensor& z_a_speech) const;

  std::shared_ptr<DigitImageEncoder> y_image, a_image;
  std::shared_ptr<nn::MLP> y_speech, a_speech;
  std::shared_ptr<nn::Linear> zy, za_image, za_speech;
  std::shared_ptr<nn::MLP> g_y, g_a_image, g_a_speech, d;
  std::shared_ptr<DigitImageDecoder> dec_image;
  std::shared_ptr<nn::MLP> dec_speech;

 private:
  MfmDigitsConfig config_;
};

// The prior draws for out.factors (models::draw_mfm_prior) and the objective above.
std::vector<Tensor> draw_digit_prior(const MfmDigitsConfig& config, const MfmDigitsOutput& out, Generator& gen);
MfmDigitsLoss mfm_digits_objective(const MfmDigitsConfig& config, const Tensor& image, const Tensor& speech,
                                   const Tensor& labels, const MfmDigitsOutput& out, const std::vector<Tensor>& prior);

}  // namespace fg::models
