# figures of results/short_fig10, drawn by sakd collect from table.csv and layers.csv
set datafile missing 'nan'
set encoding utf8
set terminal svg dynamic noenhanced size 900,540
set output 'accuracy.svg'
set ylabel "test accuracy (%)"
set key outside right top
set grid ytics
set xlabel "distill.gamma"
set style data yerrorlines
unset style histogram
set offsets graph 0.04, graph 0.04, 0, 0
plot 'accuracy.dat' using 1:2:3 title "distill.beta=10, distill.alpha=0", 'accuracy.dat' using 1:4:5 title "distill.beta=10, distill.alpha=1", 'accuracy.dat' using 1:6:7 title "distill.beta=100, distill.alpha=0", 'accuracy.dat' using 1:8:9 title "distill.beta=100, distill.alpha=1"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'accuracy.png'
set ylabel "test accuracy (%)"
set key outside right top
set grid ytics
set xlabel "distill.gamma"
set style data yerrorlines
unset style histogram
set offsets graph 0.04, graph 0.04, 0, 0
plot 'accuracy.dat' using 1:2:3 title "distill.beta=10, distill.alpha=0", 'accuracy.dat' using 1:4:5 title "distill.beta=10, distill.alpha=1", 'accuracy.dat' using 1:6:7 title "distill.beta=100, distill.alpha=0", 'accuracy.dat' using 1:8:9 title "distill.beta=100, distill.alpha=1"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 900,540
set output 'firing.svg'
set ylabel "mean firing rate"
set key outside right top
set grid ytics
set xlabel "distill.gamma"
set style data yerrorlines
unset style histogram
set offsets graph 0.04, graph 0.04, 0, 0
plot 'firing.dat' using 1:2:3 title "distill.beta=10, distill.alpha=0", 'firing.dat' using 1:4:5 title "distill.beta=10, distill.alpha=1", 'firing.dat' using 1:6:7 title "distill.beta=100, distill.alpha=0", 'firing.dat' using 1:8:9 title "distill.beta=100, distill.alpha=1"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'firing.png'
set ylabel "mean firing rate"
set key outside right top
set grid ytics
set xlabel "distill.gamma"
set style data yerrorlines
unset style histogram
set offsets graph 0.04, graph 0.04, 0, 0
plot 'firing.dat' using 1:2:3 title "distill.beta=10, distill.alpha=0", 'firing.dat' using 1:4:5 title "distill.beta=10, distill.alpha=1", 'firing.dat' using 1:6:7 title "distill.beta=100, distill.alpha=0", 'firing.dat' using 1:8:9 title "distill.beta=100, distill.alpha=1"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 900,540
set output 'energy.svg'
set ylabel "energy per image (uJ)"
set key outside right top
set grid ytics
set xlabel "distill.gamma"
set style data yerrorlines
unset style histogram
set offsets graph 0.04, graph 0.04, 0, 0
plot 'energy.dat' using 1:2:3 title "distill.beta=10, distill.alpha=0", 'energy.dat' using 1:4:5 title "distill.beta=10, distill.alpha=1", 'energy.dat' using 1:6:7 title "distill.beta=100, distill.alpha=0", 'energy.dat' using 1:8:9 title "distill.beta=100, distill.alpha=1"
unset yrange
set autoscale y
set terminal pngcairo noenhanced size 900,540
set output 'energy.png'
set ylabel "energy per image (uJ)"
set key outside right top
set grid ytics
set xlabel "distill.gamma"
set style data yerrorlines
unset style histogram
set offsets graph 0.04, graph 0.04, 0, 0
plot 'energy.dat' using 1:2:3 title "distill.beta=10, distill.alpha=0", 'energy.dat' using 1:4:5 title "distill.beta=10, distill.alpha=1", 'energy.dat' using 1:6:7 title "distill.beta=100, distill.alpha=0", 'energy.dat' using 1:8:9 title "distill.beta=100, distill.alpha=1"
unset yrange
set autoscale y
set terminal svg dynamic noenhanced size 1100,540
set output 'firing_layers.svg'
set style data yerrorlines
set ylabel "firing rate"
set xlabel "layer"
set xtics rotate by -45
set key outside right top
set offsets graph 0.02, graph 0.02, 0, 0
plot 'firing_layers.dat' using 1:3:4:xtic(2) title "distill.gamma=1, distill.beta=10, distill.alpha=0", 'firing_layers.dat' using 1:5:6 title "distill.gamma=1, distill.beta=10, distill.alpha=1", 'firing_layers.dat' using 1:7:8 title "distill.gamma=1, distill.beta=100, distill.alpha=0", 'firing_layers.dat' using 1:9:10 title "distill.gamma=1, distill.beta=100, distill.alpha=1", 'firing_layers.dat' using 1:11:12 title "distill.gamma=10, distill.beta=10, distill.alpha=0", 'firing_layers.dat' using 1:13:14 title "distill.gamma=10, distill.beta=10, distill.alpha=1", 'firing_layers.dat' using 1:15:16 title "distill.gamma=10, distill.beta=100, distill.alpha=0", 'firing_layers.dat' using 1:17:18 title "distill.gamma=10, distill.beta=100, distill.alpha=1"
set xtics norotate
set terminal pngcairo noenhanced size 1100,540
set output 'firing_layers.png'
set style data yerrorlines
set ylabel "firing rate"
set xlabel "layer"
set xtics rotate by -45
set key outside right top
set offsets graph 0.02, graph 0.02, 0, 0
plot 'firing_layers.dat' using 1:3:4:xtic(2) title "distill.gamma=1, distill.beta=10, distill.alpha=0", 'firing_layers.dat' using 1:5:6 title "distill.gamma=1, distill.beta=10, distill.alpha=1", 'firing_layers.dat' using 1:7:8 title "distill.gamma=1, distill.beta=100, distill.alpha=0", 'firing_layers.dat' using 1:9:10 title "distill.gamma=1, distill.beta=100, distill.alpha=1", 'firing_layers.dat' using 1:11:12 title "distill.gamma=10, distill.beta=10, distill.alpha=0", 'firing_layers.dat' using 1:13:14 title "distill.gamma=10, distill.beta=10, distill.alpha=1", 'firing_layers.dat' using 1:15:16 title "distill.gamma=10, distill.beta=100, distill.alpha=0", 'firing_layers.dat' using 1:17:18 title "distill.gamma=10, distill.beta=100, distill.alpha=1"
set xtics norotate
