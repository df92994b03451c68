"""Task 1: build and train the report's network on MNIST, save it, reload it and use it (report Figs 1-8).

    python task1_train_mnist.py                                         # the report's protocol
    python task1_train_mnist.py --recipe adamw-onecycle --dropout 0.1   # same Net, better recipe
    python task1_train_mnist.py --no-train                              # reload the model, parts E-G only

Writes fig01-fig08, metrics.json and model.pth to --out-dir (default outputs/task1/), and, beyond the
report, extra_embedding_map.png: the fc1 features of the first --map-points test digits in 2-D.
Expect test accuracy ~98.2 % (report: 97.99 %; the better recipe: ~99.3 %) in about 30 s on a
2-core laptop CPU.
"""
import dataclasses
import time
from pathlib import Path

import numpy as np

import analysis
import classify
import cli
import datasets
import files
import images
import plots
import recipes
import training
from models import Net, layer_table, load_checkpoint, save_checkpoint
from paths import DATA_DIR, MNIST_MODEL, MODEL_NAME

DIGITS_DIR = DATA_DIR / "handwritten_digits"
CLASS_NAMES = classify.DIGITS
RECIPE_CHOICES = ["report", "adamw-onecycle", "adamw-decay"]
MAP_POINTS = 2000  # t-SNE of 2000 points: ~10 CPU-seconds (measured); of all 10000 ~6 times that (N log N)


def parse_args(argv=None):
    p = cli.parser(__doc__, "task1")
    p.add_argument("--recipe", choices=RECIPE_CHOICES, default="report",
                   help="; ".join(recipes.describe(r) for r in RECIPE_CHOICES) + " (default: report)")
    p.add_argument("--epochs", type=cli.positive_int, default=5, help="training epochs (default: 5)")
    p.add_argument("--batch-size", type=cli.positive_int, default=None,
                   help="training batch size (default: the recipe's, 64)")
    p.add_argument("--hidden", type=cli.positive_int, default=50, help="units of the hidden layer fc1 (default: 50)")
    p.add_argument("--dropout", type=cli.dropout_rate, default=0.5,
                   help="dropout rate of the Dropout2d after conv2 (default: 0.5)")
    p.add_argument("--save", type=Path, default=None,
                   help=f"where to write the trained model (default: {MODEL_NAME} in --out-dir)")
    p.add_argument("--no-train", action="store_true",
                   help="skip training: reload --model and run parts E-G only (default: off)")
    p.add_argument("--model", type=Path, default=MNIST_MODEL,
                   help="the model --no-train reads (default: outputs/task1/model.pth)")
    p.add_argument("--digits-dir", type=cli.folder, default=DIGITS_DIR,
                   help="photos of handwritten digits for part G (default: data/handwritten_digits/)")
    p.add_argument("--map-points", type=cli.non_negative_int, default=MAP_POINTS,
                   help="map the fc1 features of the first N test digits with PCA and t-SNE (perplexity "
                        f"{analysis.PERPLEXITY:g}); 0: no map (default: {MAP_POINTS}; t-SNE time grows ~N log N)")
    cli.add_limits(p)
    return p.parse_args(argv)


def load_mnist(args, train, device):
    """(uint8 images, normalised images on `device`, labels on `device`) of one MNIST split."""
    u8, y = datasets.load_split("MNIST", train=train, data_dir=args.data_dir,
                                limit=args.train_limit if train else args.test_limit)
    return u8, datasets.normalize(u8, "MNIST").to(device), y.to(device)


def show_network(model, out, show):
    """Part B: the network printed (Fig 3) and drawn (Fig 2)."""
    print(model)
    files.write_text(str(model) + "\n", out / "fig03_network.txt")
    plots.network_diagram(layer_table(model), out / "fig02_network_diagram.png",
                          title="Fig 2: the network, with the size of each layer's output", show=show)


def progress_line(n_test):
    """A function printing one line per evaluated epoch of training.fit."""
    def progress(r):
        print(f"epoch {r['epoch']}: train loss {r['train_eval_loss']:.4f} acc {100 * r['train_accuracy']:.2f}%  "
              f"test loss {r['test_loss']:.4f} acc {r['test_correct']}/{n_test} ({100 * r['test_accuracy']:.2f}%)  "
              f"{r['train_seconds']:.1f}s", flush=True)
    return progress


def train(args, device, test, out):
    """Parts B-D: build the network, train it with train and test evaluation every epoch (Fig 5), save it."""
    recipe = recipes.RECIPES[args.recipe]
    if args.batch_size:
        recipe = dataclasses.replace(recipe, batch_size=args.batch_size)
    generator = training.set_seed(args.seed)
    model = training.prepare(Net(hidden=args.hidden, dropout=args.dropout), device)
    show_network(model, out, args.show)
    _, x_train, y_train = load_mnist(args, True, device)
    history = training.fit(model, (x_train, y_train), test, recipe, args.epochs, generator,
                           on_epoch=progress_line(len(test[1])))
    plots.loss_curves(history, out / "fig05_loss_curves.png", title=f"Fig 5: MNIST, recipe '{recipe.name}'",
                      show=args.show)
    save_checkpoint(model, args.save, class_names=CLASS_NAMES, recipe=recipe.name, epochs=args.epochs)
    print(f"saved {args.save}")
    return history


def first_ten_table(model, x, y):
    """Part E: the network's 10 outputs (2 decimals), its prediction and the label, for each of 10 digits."""
    out = training.predict(model, x[:10])
    lines = ["digit  " + " ".join(f"{c:>6}" for c in range(10)) + "   pred label"]
    for i, (row, label) in enumerate(zip(out, y[:10])):
        values = " ".join(f"{v:6.2f}" for v in row.tolist())
        lines.append(f"{i:>5}  {values}   {int(row.argmax()):>4} {int(label):>5}")
    correct = int((out.argmax(1) == y[:10]).sum())
    return "\n".join(lines), correct


def use_reloaded(model, test_u8, test, out, show):
    """Parts E-F: the reloaded network on the first ten test digits (Fig 6), nine predictions (Fig 7), the test set."""
    x_test, y_test = test
    table, correct10 = first_ten_table(model, x_test, y_test)
    print(table)
    files.write_text(table + "\n", out / "fig06_first_ten_outputs.txt")
    preds = training.predict(model, x_test[:9]).argmax(1).tolist()
    plots.image_grid(test_u8[:9], [f"Prediction: {p}" for p in preds], out / "fig07_predictions.png",
                     rows=3, cols=3, suptitle="Fig 7: predictions of the reloaded model", show=show)
    final = training.evaluate(model, x_test, y_test)
    print(f"reloaded model: test accuracy {final['correct']}/{final['n']} ({100 * final['accuracy']:.2f}%), "
          f"loss {final['loss']:.4f}; first ten digits {correct10}/10 correct")
    return final, correct10


def classify_photos(model, folder, out, show):
    """Part G: photos as taken (Fig 4) and as the network sees them, with its predictions (Fig 8)."""
    results, x, accuracy = classify.classify_folder(model, folder, classify.digit_input, CLASS_NAMES)
    names = [r["file"] for r in results]
    photos = [np.asarray(images.read_rgb(folder / name)) for name in names]
    plots.image_grid(photos, names, out / "fig04_handwritten_photos.png", cols=min(5, len(photos)),
                     suptitle="Fig 4: photos of handwritten digits, as taken", show=show)
    titles, colors = classify.titles_and_colors(results)
    known = [r for r in results if r["label"] is not None]
    head = f"Fig 8: handwritten digits, {sum(r['label'] == r['prediction'] for r in known)}/{len(known)} correct" \
        if known else "Fig 8: handwritten digits"
    plots.image_grid(datasets.denormalize(x), titles, out / "fig08_handwritten_digits.png",
                     cols=min(5, len(results)), suptitle=head, show=show, title_colors=colors)
    for r in results:
        print(f"{r['file']}: predicted {r['prediction']}" + (f" (label {r['label']})" if r["label"] else ""))
    if accuracy is not None:
        print(f"handwritten digits: {100 * accuracy:.0f}% correct")
    return results, accuracy


def embedding_map(model, x, y, n, out, show):
    """Beyond the report: the fc1 features of the first n test digits in 2-D (PCA, t-SNE), errors ringed."""
    features, log_p = analysis.fc1_features(model, x[:n])
    labels = y[:n].cpu().numpy()
    wrong = log_p.argmax(1).numpy() != labels
    maps, info = analysis.maps_2d(features)
    plots.embedding_map(maps, labels, CLASS_NAMES, out / "extra_embedding_map.png", marked=wrong, show=show,
                        title=f"fc1's {features.shape[1]} features of the first {n} MNIST test digits in 2-D "
                              f"(t-SNE perplexity {info['perplexity']:.3g}, random state {info['random_state']})")
    print(f"embedding map of {n} test digits ({int(wrong.sum())} misclassified): t-SNE "
          f"{info['seconds']['t-SNE']:.1f}s ({info['cpu_seconds']['t-SNE']:.1f}s CPU)")
    return {"points": n, "misclassified": int(wrong.sum()), **info}


def main(argv=None):
    t_start = time.perf_counter()
    args = parse_args(argv)
    device = cli.device(args.device)
    out = args.out_dir
    args.save = args.save or out / MODEL_NAME
    model_file = args.model if args.no_train else args.save
    if args.no_train:
        load_checkpoint(model_file, num_classes=10)  # fail now, before any work, if it is not usable
    test_u8, x_test, y_test = load_mnist(args, False, device)  # A. the data and the first six test digits
    plots.image_grid(test_u8[:6], [f"Ground truth: {int(t)}" for t in y_test[:6]], out / "fig01_first_digits.png",
                     rows=2, cols=3, suptitle="Fig 1: the first six MNIST test digits", show=args.show)
    metrics = {"task": "task1", "seed": args.seed, "device": str(device), "model": str(model_file)}
    if not args.no_train:
        metrics["history"] = train(args, device, (x_test, y_test), out)
        metrics.update(recipe=metrics["history"]["recipe"], hidden=args.hidden, dropout=args.dropout)
    model, _ = load_checkpoint(model_file, num_classes=10)  # E-F. reload into a fresh network in eval mode
    model = training.prepare(model, device)
    final, correct10 = use_reloaded(model, test_u8, (x_test, y_test), out, args.show)
    results, hw_accuracy = classify_photos(model, args.digits_dir, out, args.show)  # G
    n_map = min(args.map_points, len(y_test))
    if n_map >= 4:  # fewer points make no map
        metrics["embedding_map"] = embedding_map(model, x_test, y_test, n_map, out, args.show)
    metrics.update(test_accuracy=final["accuracy"], test_loss=final["loss"], test_correct=final["correct"],
                   test_n=final["n"], first_ten_correct=correct10, handwritten=results,
                   handwritten_accuracy=hw_accuracy, wall_time_s=time.perf_counter() - t_start)
    files.write_json(metrics, out / "metrics.json")
    print(f"figures and metrics.json in {out}  ({metrics['wall_time_s']:.1f}s)")


if __name__ == "__main__":
    cli.run(main)
