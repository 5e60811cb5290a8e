"""Fine-tuning the top of the merged network after the coefficients (engine.top_tuning)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load, save

from aesthetic_curator.builtin_model import builtin_bundle_path
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.judgements import Judgements
from aesthetic_curator.engine.merge import MergedScorer
from aesthetic_curator.engine.personalize import PersonalizeConfig, personal_scores, personalize, score_images
from aesthetic_curator.engine.preprocess import Preprocessor
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.profile_shaping import blend_profiles, scale_tasks
from aesthetic_curator.engine.rank_loss import indexed_pair_loss, pair_photos, preference_pairs
from aesthetic_curator.engine.scorer import freeze_norm_statistics
from aesthetic_curator.engine.solvers import get_solver
from aesthetic_curator.engine.solvers.base import PassCounter, SolverRun
from aesthetic_curator.engine.solvers.gauss_newton import FastOptions
from aesthetic_curator.engine.synthetic import synthetic_photos
from aesthetic_curator.engine.top_delta import DELTA_DTYPE, TopDelta, blend_deltas
from aesthetic_curator.engine.top_tuning import (
    AGREEMENT_FOLDS,
    FOLD_REFIT_PHOTOS,
    HEAD_CONVOLUTION,
    SCORING_HEAD,
    TopTuningOptions,
    agreement_splits,
    cut_module,
    default_learning_rate,
    fold_lower_passes,
    refits_fold_coefficients,
    split_top,
    tune_top,
    tuned_by_default,
    tuning_seconds_from,
)
from aesthetic_curator.errors import Cancelled, ProfileError
from aesthetic_curator.evaluation.harness import variant_config
from aesthetic_curator.progress import CancelToken

LIVEC_RATED = 12


@pytest.fixture(scope="module")
def builtin_model() -> MergedScorer:
    return MergedScorer.from_bundle(Bundle.load(builtin_bundle_path()))


@pytest.fixture(scope="module")
def real_photos(livec: Path, builtin_model) -> tuple[torch.Tensor, list[float]]:
    """The first LIVE-C sample photos and their human MOS."""
    import csv

    with (livec / "scores.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))[:LIVEC_RATED]
    preprocessor = Preprocessor.for_scorer(builtin_model.base)
    images = torch.stack([preprocessor.load(livec / "images" / row["image"]) for row in rows])
    return images, [float(row["mos"]) for row in rows]


@pytest.fixture(scope="module")
def tiny_photos(merged) -> torch.Tensor:
    return Preprocessor.for_scorer(merged.base).batch(synthetic_photos(24, 48, seed=77))


def _pairs(ratings) -> tuple[torch.Tensor, torch.Tensor]:
    return preference_pairs(torch.tensor(ratings)).nonzero(as_tuple=True)


def test_the_efficientnet_cut_is_the_same_network(builtin_model, real_photos):
    scorer = builtin_model.bake()
    split = split_top(scorer)
    assert split.where == HEAD_CONVOLUTION and tuned_by_default(builtin_model.base)
    assert "visual.trunk.conv_head.weight" in split.parameter_names
    assert not any(name.startswith("visual.trunk.blocks.") for name in split.parameter_names)
    with torch.no_grad():  # the head's batch norm is folded into its convolution: equal up to rounding
        assert torch.allclose(split.upper(split.lower(real_photos[0])), scorer(real_photos[0]), rtol=1e-5, atol=1e-5)


def test_the_folded_head_has_the_modules_gradients(builtin_model, real_photos):
    """The folded product must train the same parameters the same way as conv_head + bn2 as modules."""
    scorer = builtin_model.bake()
    trunk = scorer.visual.trunk
    split = split_top(scorer)
    with torch.no_grad():
        features = split.lower(real_photos[0][:4])
    params = [trunk.conv_head.weight, trunk.bn2.weight, trunk.bn2.bias]
    for p in params:
        p.requires_grad_(True)
    freeze_norm_statistics(scorer)

    def as_modules(x: torch.Tensor) -> torch.Tensor:
        return scorer.head(scorer.visual.head(trunk.forward_head(trunk.bn2(trunk.conv_head(x)))))

    folded = torch.autograd.grad(split.upper(features).sum(), params)
    modules = torch.autograd.grad(as_modules(features).sum(), params)
    for a, b in zip(folded, modules, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * float(b.abs().max()))
    trunk.bn2.train()  # batch statistics: the modules themselves, not the fold
    with torch.no_grad():
        assert torch.equal(split.upper(features), as_modules(features))


def test_a_vit_is_cut_before_its_scoring_head_and_not_tuned_by_default(merged, tiny_photos):
    scorer = merged.bake()
    split = split_top(scorer)
    assert split.where == SCORING_HEAD and not tuned_by_default(merged.base)
    assert all(name.startswith("head.") for name in split.parameter_names)
    with torch.no_grad():
        assert torch.allclose(split.upper(split.lower(tiny_photos)), scorer(tiny_photos))
    assert not PersonalizeConfig().tunes_top(merged)
    assert PersonalizeConfig(tune_top=True).tunes_top(merged)
    assert not PersonalizeConfig(tune_top=True, top_steps=0).tunes_top(merged)


def test_tuning_fits_the_judgements_and_leaves_the_scorer_as_it_was(merged, tiny_photos):
    scorer = merged.bake()
    before = {name: p.clone() for name, p in scorer.named_parameters()}
    ratings = [float(i % 5) for i in range(len(tiny_photos))]
    hi, lo = _pairs(ratings)
    with torch.no_grad():
        start_loss = float(indexed_pair_loss(scorer(tiny_photos), hi, lo))
    tuned = tune_top(scorer, tiny_photos, hi, lo, TopTuningOptions(steps=40, lr=3e-3), seed=0)
    assert float(indexed_pair_loss(tuned.scores, hi, lo)) < start_loss
    for name, p in scorer.named_parameters():
        assert torch.equal(p, before[name]) and not p.requires_grad, name
    assert set(tuned.delta.tensors) == set(split_top(scorer).parameter_names)
    assert all(t.dtype == DELTA_DTYPE for t in tuned.delta.tensors.values())
    assert any(float(t.abs().max()) > 0 for t in tuned.delta.tensors.values())
    tuned.delta.apply_to(scorer)  # the stored change reproduces the tuned scores (half precision)
    with torch.no_grad():
        assert torch.allclose(scorer(tiny_photos), tuned.scores, atol=1e-3)


def test_tuning_is_seeded_and_can_be_cancelled(merged, tiny_photos):
    hi, lo = _pairs([float(i % 3) for i in range(len(tiny_photos))])
    options = TopTuningOptions(steps=5)
    first = tune_top(merged.bake(), tiny_photos, hi, lo, options, seed=3)
    again = tune_top(merged.bake(), tiny_photos, hi, lo, options, seed=3)
    assert all(torch.equal(first.delta.tensors[n], again.delta.tensors[n]) for n in first.delta.tensors)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        tune_top(merged.bake(), tiny_photos, hi, lo, options, seed=3, cancel=cancel)


def test_the_tuned_agreement_tunes_each_fold_without_its_held_out_photos(merged, tiny_photos, monkeypatch):
    """Each fold's tuning sees only the features and pairs of its training photos; the agreement pools the
    held-out pairs of two unseen photos, and the scorer is left as it came."""
    from aesthetic_curator.engine import top_tuning
    from aesthetic_curator.engine.agreement import agreement_folds

    ratings = [float(i % 5) for i in range(len(tiny_photos))]
    hi, lo = _pairs(ratings)
    folds = agreement_folds(hi, lo, len(tiny_photos), 5, 0, 2)
    fold_photos: list[int] = []
    original = top_tuning._tuned

    def recording(scorer, split, plain, mirrored, fold_hi, fold_lo, *args):
        fold_photos.append(len(plain))
        assert int(torch.cat([fold_hi, fold_lo]).max()) < len(plain)  # pairs indexed into the fold's photos
        return original(scorer, split, plain, mirrored, fold_hi, fold_lo, *args)

    monkeypatch.setattr(top_tuning, "_tuned", recording)
    scorer = merged.bake()
    before = {name: p.clone() for name, p in scorer.named_parameters()}
    stages: list[str] = []
    options = TopTuningOptions(steps=10, lr=3e-3)
    tuned = tune_top(
        scorer, tiny_photos, hi, lo, options, 0, lambda update: stages.append(update.stage), None, None, folds
    )
    assert fold_photos[0] == len(tiny_photos) and len(fold_photos) == 1 + len(folds)
    for (train, valid), photos in zip(folds, fold_photos[1:]):
        trained = set(torch.cat([hi[train], lo[train]]).tolist())
        assert photos == len(trained) and not trained & set(torch.cat([hi[valid], lo[valid]]).tolist())
    assert tuned.agreement is not None and 0 <= tuned.agreement.value <= 1 and tuned.agreement.pairs > 0
    assert "measuring agreement" in stages
    assert all(torch.equal(p, before[name]) for name, p in scorer.named_parameters())
    assert tune_top(scorer, tiny_photos, hi, lo, options, 0).agreement is None  # no folds: not measured


def test_folds_with_their_own_coefficients_tune_their_own_network(merged, tiny_photos):
    """With ``fold_scorer`` each fold tunes the network merged at its own coefficients, on features below
    the cut computed afresh; the estimate then differs from the shared network's, and the scorer is kept."""
    from aesthetic_curator.engine.agreement import agreement_folds

    ratings = [float(i % 5) for i in range(len(tiny_photos))]
    hi, lo = _pairs(ratings)
    folds = agreement_folds(hi, lo, len(tiny_photos), 3, 0, 1)
    asked: list[torch.Tensor] = []
    other = torch.full_like(merged.alpha, 0.9).detach()

    def fold_scorer(rows: torch.Tensor):
        asked.append(rows)
        return merged.bake(other)

    scorer = merged.bake()
    before = {name: p.clone() for name, p in scorer.named_parameters()}
    options = TopTuningOptions(steps=10, lr=3e-3)
    shared = tune_top(scorer, tiny_photos, hi, lo, options, 0, agreement_folds=folds)
    own = tune_top(scorer, tiny_photos, hi, lo, options, 0, agreement_folds=folds, fold_scorer=fold_scorer)
    assert [rows.tolist() for rows in asked] == [train.tolist() for train, _ in folds]
    assert own.agreement is not None and own.agreement.pairs == shared.agreement.pairs
    n = len(tiny_photos)  # below the cut: every photo plain and mirrored, then per fold every photo plain
    assert shared.lower_forwards == 2 * n  # and its training photos mirrored
    assert own.lower_forwards == 2 * n + sum(n + len(pair_photos(hi, lo, train)) for train, _ in folds)
    assert own.agreement.value != shared.agreement.value
    assert all(torch.equal(t, shared.delta.tensors[name]) for name, t in own.delta.tensors.items())  # kept model
    assert all(torch.equal(p, before[name]) for name, p in scorer.named_parameters())


def test_a_tuned_profile_reports_the_tuned_models_agreement(builtin_model, real_photos):
    images, mos = real_photos
    stages: list[str] = []
    fitted = PersonalizeConfig.for_solver("fast", init_only_below=0)  # the coefficients fitted before the tuning
    result = personalize(builtin_model, images, mos, fitted, progress=lambda update: stages.append(update.stage))
    assert result.top_delta is not None and "measuring agreement" in stages
    assert result.agreement is not None and 0 <= result.agreement.value <= 1
    untuned = personalize(builtin_model, images, mos, PersonalizeConfig.for_solver("fast", tune_top=False))
    assert untuned.agreement is not None and untuned.agreement != result.agreement  # the coefficients' own
    # Below FOLD_REFIT_PHOTOS every fold passes every photo below the cut at its own coefficients, and its
    # training photos mirrored: counted as forwards, and bounded by the time estimate's count.
    k = len(mos)
    assert refits_fold_coefficients(k) and not refits_fold_coefficients(FOLD_REFIT_PHOTOS)
    options = TopTuningOptions()
    extra = fold_lower_passes(k, options, fold_refit=True) * k
    plain = agreement_splits(k) * AGREEMENT_FOLDS * k
    tuning_forwards = result.passes.forward - untuned.passes.forward  # the same solver's passes otherwise
    assert k + plain < tuning_forwards <= 2 * k + extra  # the mirrored pass, the plain one unless kept
    assert extra < 2 * plain  # the held-out photos are not mirrored
    assert fold_lower_passes(FOLD_REFIT_PHOTOS, options, fold_refit=True) == 0
    assert fold_lower_passes(k, options, fold_refit=False) == 0
    with_refit = tuning_seconds_from(0.01, 0.001, k, options, lower_kept=True, fold_refit=True)
    assert with_refit == pytest.approx(tuning_seconds_from(0.01, 0.001, k, options, lower_kept=True) + 0.01 * extra)


def test_learning_rate_grows_with_the_photos_judged():
    assert default_learning_rate(100) == pytest.approx(1e-3)
    assert default_learning_rate(400) == pytest.approx(1e-3)
    assert default_learning_rate(10) == pytest.approx(1e-3 * 0.1**0.5)
    assert default_learning_rate(10) < default_learning_rate(50) < default_learning_rate(100)


def test_comparisons_set_the_learning_rate_by_pairs_ordered_and_the_agreements_error_by_answers(
    merged, tiny_photos, monkeypatch
):
    """Ten comparisons over twenty photos order ten pairs, as a ranking of five photos would: the tuning
    steps as for five stars, and the estimate's ± is binomial over the ten answers, not twenty photos."""
    import aesthetic_curator.engine.personalize as personalize_module
    from aesthetic_curator.engine.agreement import binomial_error

    asked: list[int] = []
    real = personalize_module.default_learning_rate
    monkeypatch.setattr(personalize_module, "default_learning_rate", lambda k: asked.append(k) or real(k))
    photos = tiny_photos[:20]
    judgements = Judgements.build([None] * 20, [(2 * i, 2 * i + 1) for i in range(10)])
    assert judgements.n_photos == 20 and judgements.n_answers == 10
    result = personalize(merged, photos, judgements, PersonalizeConfig(tune_top=True, top_steps=3))
    assert judgements.ranking_equivalent == 5.0  # 5 ranked photos order 10 pairs
    assert asked == [5.0] and result.top_delta is not None
    assert result.agreement is not None
    assert result.agreement.error == pytest.approx(binomial_error(result.agreement.value, 10))


def test_the_builtin_model_is_tuned_by_default_and_its_profile_ranks_as_learned(builtin_model, real_photos, tmp_path):
    images, mos = real_photos
    result = personalize(builtin_model, images, mos)
    assert result.top_tuned == HEAD_CONVOLUTION and result.top_delta is not None
    untuned = personalize(builtin_model, images, mos, PersonalizeConfig(tune_top=False))
    assert untuned.top_delta is None
    # Under FastOptions.init_only_below photos only the tuning learns; without the tuning the coefficients do.
    assert len(mos) < FastOptions().init_only_below and torch.equal(result.alpha, result.init_alpha)
    assert not torch.equal(untuned.alpha, untuned.init_alpha)
    bundle = Bundle.load(builtin_bundle_path())
    profile = Profile.from_result(result, bundle)
    path = profile.save(tmp_path / "me.profile")
    assert path.stat().st_size < 2_000_000
    loaded = Profile.load(path)
    assert loaded.metadata()["format_version"] == 2 and loaded.extra["top_tuned"] == HEAD_CONVOLUTION
    from aesthetic_curator.engine.session import ModelSession

    session = ModelSession(builtin_bundle_path(), "cpu")
    session.speed_up_cpu = False
    with torch.no_grad():
        ranked = session.personal_scorer(loaded)(images)
    assert torch.allclose(ranked, personal_scores(builtin_model, images, result), atol=1e-4)
    plain = score_images(builtin_model, images, result.alpha)
    assert not torch.allclose(ranked, plain, atol=1e-4)  # the tuned top is what ranks, not the coefficients alone


def test_the_solvers_last_forward_feeds_the_tuning(builtin_model, real_photos):
    """The fast solver keeps what the cut module output in its accepted plain forward; the tuning then
    starts from it instead of its own pass, and learns the same change."""
    images, mos = real_photos
    config = PersonalizeConfig.for_solver("fast", init_only_below=0)
    judgements = Judgements.from_ratings(mos)
    tap = cut_module(builtin_model.base)
    run = SolverRun(builtin_model, images, judgements, builtin_model.alpha.detach().clone(), config, PassCounter())
    untapped = get_solver("fast").solve(run)
    assert untapped.cut_features is None
    run.tap, run.counter = tap, PassCounter()
    output = get_solver("fast").solve(run)
    assert torch.equal(output.alpha, untapped.alpha) and not tap._forward_hooks  # the hook is gone again
    assert output.cut_features is not None and output.cut_features.shape[0] == len(images)
    scorer = builtin_model.bake(output.alpha)
    split = split_top(scorer)
    with torch.no_grad():
        assert torch.allclose(output.cut_features, split.lower(images), atol=1e-4)
    hi, lo = _pairs(mos)
    options = TopTuningOptions(steps=5)
    own = tune_top(scorer, images, hi, lo, options, seed=3)
    kept = tune_top(scorer, images, hi, lo, options, seed=3, lower=output.cut_features)
    assert torch.allclose(kept.scores, own.scores, atol=1e-3)
    with pytest.raises(ValueError, match="kept features"):
        tune_top(scorer, images, hi, lo, options, seed=3, lower=output.cut_features[:3])


def test_under_fifty_stars_the_tuning_starts_from_the_init_and_each_fold_from_its_own(builtin_model, real_photos):
    """Below FastOptions.init_only_below photos judged by stars (with the top tuned after them) the coefficients stay at
    the adaptive init: one forward per photo, no backward, and the tuning's input kept from it; each agreement
    fold starts from the init of its own photos' answers, so the estimate does not see the held-out ones."""
    images, mos = real_photos
    k = len(mos)
    judgements = Judgements.from_ratings(mos)
    init = builtin_model.alpha.detach().clone()
    seen: list[torch.Tensor] = []

    def fold_init(photos: torch.Tensor) -> torch.Tensor:
        seen.append(photos)
        return torch.full_like(init, float(len(photos)))

    tap = cut_module(builtin_model.base)
    run = SolverRun(builtin_model, images, judgements, init, PersonalizeConfig(), PassCounter(), fold_init=fold_init)
    run.tap = tap
    output = get_solver("fast").solve(run)
    assert torch.equal(output.alpha, init) and output.steps == 0
    assert run.counter.forward == k and run.counter.backward == 0
    assert torch.allclose(output.final_scores, score_images(builtin_model, images, init), atol=1e-5)
    assert output.cut_features is not None and output.cut_features.shape[0] == k
    hi, lo = _pairs(mos)
    rows = torch.arange(0, len(hi), 2)
    assert torch.equal(output.fold_coefficients(rows), torch.full_like(init, float(len(pair_photos(hi, lo, rows)))))
    assert torch.equal(seen[-1], pair_photos(hi, lo, rows))
    # Without the tuning after it, or from init_only_below photos on, the solver fits the coefficients.
    run.tap, run.counter = None, PassCounter()
    assert not torch.equal(get_solver("fast").solve(run).alpha, init) and run.counter.backward > 0
    # So it does when comparisons are most of the answers: pairs asked after init-only profiles taught less.
    order = sorted(range(k), key=lambda i: -mos[i])
    chain = [(order[i], order[i + 1]) for i in range(k - 1)]
    compared = Judgements.build([None] * k, chain)
    assert compared.mostly_comparisons
    run.tap, run.counter, run.judgements = tap, PassCounter(), compared
    assert not torch.equal(get_solver("fast").solve(run).alpha, init) and run.counter.backward > 0
    # Stars at least half of the answers: the init is kept as for stars alone.
    half = k // 2
    mixed = Judgements.build([*mos[:half], *([None] * (k - half))], chain[:half])
    assert mixed.has_comparisons and mixed.n_starred == half and not mixed.mostly_comparisons
    run.counter, run.judgements = PassCounter(), mixed
    assert torch.equal(get_solver("fast").solve(run).alpha, init) and run.counter.backward == 0
    run.judgements = judgements
    run.tap, run.counter = tap, PassCounter()
    run.config = PersonalizeConfig.for_solver("fast", init_only_below=k)
    assert not torch.equal(get_solver("fast").solve(run).alpha, init)
    # The time estimate counts what runs: one forward per photo instead of the fit's passes.
    fast = get_solver("fast")
    timings: dict = {}
    kept = fast.estimate_seconds(builtin_model, k, PersonalizeConfig(), zero_shot_done=True, timings=timings)
    ((_, (per_jacobian_photo, per_forward)),) = timings.items()
    assert kept == pytest.approx(per_forward * k)
    fitting = PersonalizeConfig.for_solver("fast", init_only_below=0)  # 3 Jacobians, 2 plain forwards
    full = fast.estimate_seconds(builtin_model, k, fitting, zero_shot_done=True, timings=timings)
    assert full == pytest.approx(per_jacobian_photo * 3 * k + per_forward * 2 * k)
    # With comparisons the most of the answers the coefficients are fitted, and the estimate counts that fit.
    with_pairs = fast.estimate_seconds(
        builtin_model, k, PersonalizeConfig(), zero_shot_done=True, timings=timings, mostly_comparisons=True
    )
    assert with_pairs == pytest.approx(full)


def test_the_paper_recipe_stays_the_papers(builtin_model, real_photos):
    images, mos = real_photos
    config = PersonalizeConfig.for_solver("paper", steps=1)
    assert not config.tunes_top(builtin_model)
    assert personalize(builtin_model, images, mos, config).top_delta is None


def _profile_with_delta(bundle: Bundle, merged: MergedScorer, delta: TopDelta) -> Profile:
    return Profile(
        alpha=merged.alpha.detach().clone(),
        bundle_id=bundle.bundle_id,
        task_names=list(bundle.task_names),
        n_layers=merged.n_layers,
        k=10,
        temperature=0.1,
        zero_shot_srocc={},
        train_srocc=0.5,
        top_delta=delta,
    )


def test_profiles_without_a_tuned_top_stay_version_1(test_bundle, merged):
    profile = _profile_with_delta(test_bundle, merged, TopDelta({}))
    profile.top_delta = None
    assert profile.metadata()["format_version"] == 1
    assert Profile.from_bytes(profile.to_bytes()).top_delta is None


def test_a_damaged_or_foreign_tuned_top_is_refused(test_bundle, merged, tiny_photos):
    name = split_top(merged.bake()).parameter_names[-1]
    shape = dict(merged.base.named_parameters())[name].shape
    bad = _profile_with_delta(test_bundle, merged, TopDelta({name: torch.full(shape, float("nan"))}))
    with pytest.raises(ProfileError, match="NaN"):
        Profile.from_bytes(bad.to_bytes())
    foreign = _profile_with_delta(test_bundle, merged, TopDelta({"head.nonexistent": torch.zeros(3)}))
    loaded = Profile.from_bytes(foreign.to_bytes())
    with pytest.raises(ProfileError, match="does not fit"):
        loaded.top_delta.apply_to(merged.bake())
    # a newer format than this app knows is refused, not read without its change
    data = _profile_with_delta(test_bundle, merged, TopDelta({name: torch.zeros(shape)})).to_bytes()
    length = int.from_bytes(data[:8], "little")
    meta = json.loads(json.loads(data[8 : 8 + length])["__metadata__"]["aesthetic_curator_profile"])
    meta["format_version"] = 3
    newer = save(load(data), metadata={"aesthetic_curator_profile": json.dumps(meta)})
    with pytest.raises(ProfileError, match="newer"):
        Profile.from_bytes(newer)


def test_blending_blends_the_tuned_tops_and_scaling_keeps_them(test_bundle, merged):
    name = split_top(merged.bake()).parameter_names[-1]
    shape = dict(merged.base.named_parameters())[name].shape
    a = _profile_with_delta(test_bundle, merged, TopDelta({name: torch.ones(shape, dtype=DELTA_DTYPE)}))
    b = _profile_with_delta(test_bundle, merged, TopDelta({}))
    b.top_delta = None
    blended = blend_profiles(a, b, 0.25, "mix")
    assert torch.allclose(blended.top_delta.tensors[name].float(), torch.full(shape, 0.25))
    assert blend_deltas(None, None, 0.5) is None
    scaled = scale_tasks(a, {a.task_names[0]: 2.0})
    assert torch.equal(scaled.top_delta.tensors[name], a.top_delta.tensors[name])


def test_eval_variants_switch_the_tuning(merged):
    config = variant_config("fast:tune_top=false,evaluations=2", PersonalizeConfig(), 1)
    assert config.tune_top is False and config.seed == 1
    assert config.options["fast"].evaluations == 2
    assert variant_config("fast:top_steps=10", PersonalizeConfig(), 0).top_steps == 10


def test_the_time_estimate_counts_the_tuning(builtin_model, merged):
    from aesthetic_curator.engine.personalize import tuning_seconds

    assert tuning_seconds(builtin_model, 100, PersonalizeConfig()) > 0
    assert tuning_seconds(builtin_model, 100, PersonalizeConfig(tune_top=False)) == 0
    assert tuning_seconds(merged, 100, PersonalizeConfig()) == 0  # a ViT: not tuned by default


def test_the_cli_switches_the_tuning(test_bundle, tmp_path):
    from aesthetic_curator.cli import main

    folder = tmp_path / "photos"
    folder.mkdir()
    for index, photo in enumerate(synthetic_photos(10, 48, seed=5)):
        photo.save(folder / f"p{index}.jpg")
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("image,rating\n" + "".join(f"p{i}.jpg,{i % 5}\n" for i in range(10)))
    common = ["personalize", "--bundle", str(test_bundle.path), "--images", str(folder), "--ratings", str(ratings)]
    for choice, tuned in (("on", True), ("off", False), ("auto", False)):  # auto: the test bundle is a ViT
        out = tmp_path / f"{choice}.profile"
        assert main([*common, "--out", str(out), "--tune-top", choice, "-q"]) == 0
        assert (Profile.load(out).top_delta is not None) is tuned, choice
